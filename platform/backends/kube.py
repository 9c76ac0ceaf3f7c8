"""`seerctl` against a Kubernetes cluster: SeerJob custom resources through the API.

``submit`` checks that the job can run on a cluster and creates the resource directly
(``seer.platform.kube.resource``, the path the TorchX ``seer`` scheduler uses
too). Everything else reads the resource's status (written by the operator) and its
worker pods.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from seer.platform.backends.api import (
    JobExists,
    JobNotFound,
    JobRunning,
    JobStatus,
    SchedulerUnavailable,
    SubmitRefused,
)
from seer.platform.kube.client import KubeClient, kubeconfig_namespace, worker_slot
from seer.platform.kube.resource import create_seerjob, custom_resource
from seer.platform.kube.status import SeerJobStatus, parse_rfc3339
from seer.platform.spec import SeerJob

TERMINAL = ("Succeeded", "Failed")
#: Phases in which no worker runs and none will start by itself: ``submit --resume`` may
#: replace the SeerJob, ``delete`` needs no ``--force``.
ENDED = (*TERMINAL, "Cancelled")
#: Set by ``seerctl cancel`` (with ``spec.suspend: true``): the time of the cancel, RFC 3339.
#: A suspended SeerJob carrying it is shown as Cancelled; one suspended by a queue (Kueue) or
#: by hand is Suspended. (Spelled here until platform/contract.py takes it over.)
ANNOTATION_CANCELLED = "seer.dev/cancelled-at"


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_rfc3339(text).timestamp()
    except ValueError:
        return None


def status_of(doc: dict[str, Any]) -> JobStatus:
    """A SeerJob document (with the operator's status) as seerctl's JobStatus."""
    status = SeerJobStatus.from_document(doc.get("status"))
    phase = status.phase.value if hasattr(status.phase, "value") else str(status.phase)
    condition = status.condition(phase)
    reason, message = (condition.reason, condition.message) if condition else ("", "")
    cancelled_at = (doc["metadata"].get("annotations") or {}).get(ANNOTATION_CANCELLED)
    if cancelled_at and phase == "Suspended":  # `seerctl cancel`: suspended for good, not queued
        stopping = bool(status.nodes_ready)
        phase = "Cancelling" if stopping else "Cancelled"
        reason = "Cancelled"
        message = f"cancelled at {cancelled_at}; " + (
            "workers are writing a final checkpoint" if stopping else "workers stopped after a final checkpoint"
        )
    return JobStatus(
        name=doc["metadata"]["name"],
        scheduler="kubernetes",
        phase=phase,
        reason=reason,
        message=message,
        step=status.step,
        last_checkpoint_step=status.last_checkpoint_step,
        last_checkpoint_time=_ts(status.last_checkpoint_time),
        start_time=_ts(status.start_time) or _ts(doc["metadata"].get("creationTimestamp")),
        completion_time=_ts(status.completion_time),
        restarts=status.restarts,
        nodes_ready=status.nodes_ready,
        nodes_desired=status.nodes_desired,
        namespace=doc["metadata"].get("namespace"),
    )


class KubernetesBackend:
    name = "kubernetes"

    def __init__(
        self, *, context: str | None = None, namespace: str | None = None, client: KubeClient | None = None
    ) -> None:
        self.context = context
        self._namespace = namespace
        self._client = client

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            import kubernetes.config

            try:
                self._client = KubeClient.connect(self.context)
            except (kubernetes.config.ConfigException, OSError) as exc:
                raise SchedulerUnavailable(
                    "no usable kubeconfig for the kubernetes scheduler: set KUBECONFIG or create ~/.kube/config "
                    f"(--context picks a context), or run seerctl inside a cluster ({exc})"
                ) from None
        return self._client

    @property
    def namespace(self) -> str:
        return self._namespace or kubeconfig_namespace(self.context)

    def _get(self, name: str) -> dict[str, Any]:
        doc = self.client.get(self.namespace, name)
        if doc is None:
            raise JobNotFound(f"no SeerJob {name!r} in namespace {self.namespace!r}")
        return doc

    @staticmethod
    def check_submittable(job: SeerJob) -> None:
        """What a cluster cannot run, refused before anything is sent (pure): ``submit`` and
        ``submit --dry-run`` both call it, so a dry run never shows a resource that the
        real submit would refuse."""
        if not job.spec.checkpoint.url:
            raise SubmitRefused(
                "spec.checkpoint.url is required on Kubernetes: workers share no disk, so checkpoints go to "
                "object storage (e.g. s3://bucket/seer/" + job.name + "/)"
            )
        local_sources = [u for u in job.spec.data.sources if "://" not in u or u.startswith("file://")]
        if local_sources:
            raise SubmitRefused(
                f"spec.data.sources {local_sources} are local paths; on Kubernetes give object-storage URLs "
                "(s3://, gs://) the workers can read"
            )

    def submit(self, job: SeerJob, *, resume: bool = False, fresh: bool = False) -> str:
        self.check_submittable(job)
        existing = self.client.get(self.namespace, job.name)
        if existing is not None:
            phase = status_of(existing).phase
            if phase not in ENDED:
                raise JobExists(
                    f"SeerJob {job.name!r} is already {phase.lower()} in namespace {self.namespace!r}; cancel it with "
                    f"`seerctl cancel {job.name} -s kubernetes` or pick another metadata.name"
                )
            if fresh:
                raise JobExists(
                    f"SeerJob {job.name!r} exists ({phase}). On Kubernetes checkpoints live at spec.checkpoint.url "
                    "and a new job resumes from them: to start over, point checkpoint.url at a new location "
                    "and submit with --resume"
                )
            if not resume:
                raise JobExists(
                    f"SeerJob {job.name!r} already exists ({phase}). "
                    "Use --resume to run it again from its latest checkpoint"
                )
            self.client.delete(self.namespace, job.name)
            self._wait_gone(job.name)
        _, name = create_seerjob(self.client, job, self.namespace)
        return name

    def _wait_gone(self, name: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.client.get(self.namespace, name) is not None:
            if time.monotonic() > deadline:
                raise JobExists(f"SeerJob {name!r} is still being deleted; try again shortly")
            time.sleep(0.5)

    def status(self, name: str) -> JobStatus:
        return status_of(self._get(name))

    def list(self, *, all_namespaces: bool = False) -> list[JobStatus]:
        return [status_of(d) for d in self.client.list(None if all_namespaces else self.namespace)]

    def cancel(self, name: str) -> str:
        """Suspend the SeerJob and mark it cancelled: the operator stops the workers after a
        final checkpoint and the resource stays (status, history); ``submit --resume``
        continues it, ``delete`` removes it."""
        phase = status_of(self._get(name)).phase
        if phase in ENDED:
            return f"SeerJob {name!r} is not running ({phase}); nothing to cancel"
        cancel_seerjob(self.client, self.namespace, name)
        return (
            f"cancelling SeerJob {name!r}: its workers write a final checkpoint and stop; the SeerJob stays "
            f"(`seerctl delete {name} -s kubernetes -n {self.namespace}` removes it)"
        )

    def delete(self, name: str, *, force: bool = False) -> str:
        """Delete the SeerJob (the operator's children go with it); a running one only with ``force``."""
        phase = status_of(self._get(name)).phase
        if phase not in ENDED and not force:
            raise JobRunning(
                f"SeerJob {name!r} is {phase.lower()}: cancel it first (`seerctl cancel {name} -s kubernetes "
                f"-n {self.namespace}`), or delete it anyway with --force"
            )
        self.client.delete(self.namespace, name)
        return f"deleted SeerJob {name!r} in namespace {self.namespace!r}" + (
            "" if phase in ENDED else " (its workers get SIGTERM and write a final checkpoint)"
        )

    def logs(
        self,
        name: str,
        *,
        rank: int | None,
        follow: bool,
        tail: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
    ) -> Iterator[str]:
        """Worker pods' lines (the newest pod of each slot); ``tail``, ``since_seconds`` and
        ``timestamps`` are the API server's ``tailLines``, ``sinceSeconds``, ``timestamps``."""
        self._get(name)
        window = {"tail": tail, "since_seconds": since_seconds, "timestamps": timestamps}
        pods = self.client.worker_pods(self.namespace, name)
        newest: dict[str, dict[str, Any]] = {}
        for p in pods:  # sorted by slot then restart: the last of a slot is the newest
            newest[worker_slot(p)] = p
        slots = sorted(newest, key=int)
        if rank is not None:
            slots = [s for s in slots if int(s) == rank]
            if not slots:
                raise JobNotFound(f"SeerJob {name!r} has no worker pod for slot {rank}")
        names = [newest[s]["metadata"]["name"] for s in slots]
        if follow and len(names) > 1:  # every pod at once, as lines arrive
            yield from merge_streams(
                {f"[{pod}] ": self.client.log_lines(self.namespace, pod, follow=True, **window) for pod in names}
            )
            return
        for pod in names:
            prefix = "" if len(names) == 1 else f"[{pod}] "
            for line in self.client.log_lines(self.namespace, pod, follow=follow, **window):
                yield prefix + line

    def events(self, name: str) -> Iterator[dict[str, Any]]:
        """Progress events (``seerctl plot``) read back from the current worker pods' logs: a
        cluster job's ``events.jsonl`` is in its pods. Pods replaced by a restart took their
        logs with them, so the history starts at the oldest pod still there."""
        from seer.platform.backends.log_progress import progress_events

        self._get(name)
        lines: list[str] = []
        for pod in self.client.worker_pods(self.namespace, name):
            lines += self.client.log_lines(self.namespace, pod["metadata"]["name"])
        return iter(progress_events(lines))

    def describe(self, name: str) -> dict[str, Any]:
        doc = self._get(name)
        pods = [
            {
                "name": p["metadata"]["name"],
                "phase": (p.get("status") or {}).get("phase"),
                "node": (p.get("spec") or {}).get("nodeName"),
            }
            for p in self.client.worker_pods(self.namespace, name)
        ]
        return {"status": status_of(doc).to_dict(), "resource": doc, "pods": pods}


def merge_streams(streams: dict[str, Iterator[str]]) -> Iterator[str]:
    """Lines of several blocking streams, each prefixed with its key, in the order they arrive;
    ends when every stream has ended. One reader thread per stream (``logs -f`` of a job with
    several pods: following them one after another would never reach the second)."""
    import queue
    import threading

    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()

    def read(prefix: str, stream: Iterator[str]) -> None:
        try:
            for line in stream:
                lines.put((prefix, line))
        except Exception as exc:  # one pod's broken stream must not end the others
            lines.put((prefix, f"(log stream ended: {type(exc).__name__}: {exc})"))
        finally:
            lines.put((prefix, None))  # this stream ended

    for prefix, stream in streams.items():
        threading.Thread(target=read, args=(prefix, stream), daemon=True).start()
    open_streams = len(streams)
    while open_streams:
        prefix, line = lines.get()
        if line is None:
            open_streams -= 1
        else:
            yield prefix + line


def cancel_seerjob(client: KubeClient, namespace: str, name: str) -> None:
    """``cancel`` on Kubernetes, for ``seerctl`` and the TorchX ``seer`` scheduler alike:
    ``spec.suspend: true`` (the operator stops the workers after a final checkpoint) plus
    the cancel annotation (so status says Cancelled, not Suspended)."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"metadata": {"annotations": {ANNOTATION_CANCELLED: now}}, "spec": {"suspend": True}}
    if client.patch(namespace, name, body) is None:
        raise JobNotFound(f"no SeerJob {name!r} in namespace {namespace!r}")


__all__ = ["ANNOTATION_CANCELLED", "KubernetesBackend", "cancel_seerjob", "custom_resource", "status_of"]
