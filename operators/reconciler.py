"""One reconcile of one SeerJob: read, decide (pure), apply, report.

Apply order (see ``planning``): create, delete, write status, post Events. A
resourceVersion conflict on the status write re-runs the whole read-decide-apply
loop with fresh data (creates are idempotent, so nothing is doubled).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from seer.operators.kubeapi import Conflict, KubeApi
from seer.operators.metrics import OperatorMetrics
from seer.operators.planning import JobEvent, desired_children, is_ready, observed_kinds
from seer.operators.progress import ScrapedProgress, fetch_exposition, parse_progress
from seer.operators.queueing import flavor_names, workload_name
from seer.platform.contract import LABEL_ROLE, ROLE_WORKER
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.spec import API_GROUP, API_VERSION, KIND, SeerJob

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 8


def job_from_document(doc: dict[str, Any]) -> SeerJob:
    meta = doc.get("metadata") or {}
    return SeerJob.model_validate(
        {
            "apiVersion": doc.get("apiVersion", f"{API_GROUP}/{API_VERSION}"),
            "kind": doc.get("kind", KIND),
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace", "default"),
                "labels": meta.get("labels") or {},
            },
            "spec": doc.get("spec") or {},
        }
    )


class Reconciler:
    def __init__(
        self,
        api: KubeApi,
        metrics: OperatorMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        fetch: Callable[[str, int], str] = fetch_exposition,
    ) -> None:
        self.api = api
        self.metrics = metrics
        self.clock = clock
        self.fetch = fetch
        #: Test barrier: completed reconcile rounds per (namespace, name), success or not.
        #: Tests wait for a round that *started* after an action (count + 2: the one in
        #: flight may predate it) instead of sleeping; the operator itself never reads it.
        self.rounds_completed: dict[tuple[str, str], int] = {}

    def reconcile(self, namespace: str, name: str, scrape: bool = False) -> float | None:
        """Bring one job closer to its spec; returns seconds until it wants another look."""
        started = time.perf_counter()
        try:
            for _ in range(MAX_CONFLICT_RETRIES):
                try:
                    result = self._once(namespace, name, scrape)
                except Conflict:
                    self.metrics.reconciles.labels(result="conflict").inc()
                    continue
                self.metrics.reconciles.labels(result="success").inc()
                return result
            raise Conflict(f"SeerJob {namespace}/{name}: gave up after {MAX_CONFLICT_RETRIES} conflicting writes")
        except Conflict:
            self.metrics.reconciles.labels(result="error").inc()
            raise
        except Exception:
            self.metrics.reconciles.labels(result="error").inc()
            raise
        finally:
            self.metrics.duration.observe(time.perf_counter() - started)
            key = (namespace, name)
            self.rounds_completed[key] = self.rounds_completed.get(key, 0) + 1  # test barrier, see __init__

    def _once(self, namespace: str, name: str, scrape: bool) -> float | None:
        doc = self.api.get_job(namespace, name)
        if doc is None or doc["metadata"].get("deletionTimestamp"):
            self.metrics.forget_job(namespace, name)
            return None
        meta = doc["metadata"]
        prev = SeerJobStatus.from_document(doc.get("status"))
        try:
            job = job_from_document(doc)
        except ValidationError as e:
            return self._invalid(doc, prev, e)
        observed = self.api.list_children(namespace, name, observed_kinds(job))
        if flavors := flavor_names(job, observed.workloads):
            found = (self.api.get_resource_flavor(flavor) for flavor in flavors)
            observed = dataclasses.replace(observed, flavors=tuple(f for f in found if f is not None))
        plan = desired_children(job, meta["uid"], meta.get("generation"), prev, observed, self.clock())
        for manifest in plan.create:
            self.api.create(manifest)
        for deletion in plan.delete:
            if deletion.kind == "Pod":
                self.api.delete_pod(namespace, deletion.name, deletion.grace_seconds)
            else:  # a stale Workload or PodGroup (planning._stale)
                self.api.delete_custom(namespace, deletion.api_version, deletion.kind, deletion.name)
        if plan.workload_status is not None:
            self.api.patch_workload_status(namespace, workload_name(name), plan.workload_status, plan.workload_version)
        status = plan.status
        if scrape and status.phase == Phase.running and job.spec.metrics.enabled and job.spec.metrics.port:
            progress = self._scrape(observed.pods, job.spec.metrics.port)
            if progress is not None:
                status = status.model_copy(update={k: v for k, v in vars(progress).items() if v is not None})
        if status.to_document() != prev.to_document():
            self.api.patch_status(namespace, name, status.to_document(), meta.get("resourceVersion"))
        for event in plan.events:
            self._post(doc, event)
        for cause in plan.restart_causes:
            self.metrics.restarts.labels(reason=cause).inc()
        self.metrics.observe_job(
            namespace, name, status.phase.value, status.nodes_ready, status.nodes_desired, status.restarts
        )
        return plan.requeue_after

    def _scrape(self, pods: tuple[dict[str, Any], ...], port: int) -> ScrapedProgress | None:
        """Ask ready workers (local rank 0 each) until one answers with a step."""
        for pod in pods:
            ip = (pod.get("status") or {}).get("podIP")
            if not ip or not is_ready(pod) or (pod["metadata"].get("labels") or {}).get(LABEL_ROLE) != ROLE_WORKER:
                continue
            try:
                progress = parse_progress(self.fetch(ip, port))
            except Exception as e:  # a worker busy starting up is not an error of the job
                log.debug("scrape of %s:%d failed: %s", ip, port, e)
                continue
            if progress.step is not None:
                return progress
        return None

    def _invalid(self, doc: dict[str, Any], prev: SeerJobStatus, error: ValidationError) -> None:
        from seer.operators.planning import next_status

        message = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())[:1000]
        status = next_status(
            prev,
            phase=Phase.failed,
            reason="InvalidSpec",
            message=message,
            nodes_ready=0,
            nodes_desired=0,
            restarts=prev.restarts,
            generation=doc["metadata"].get("generation"),
            now=self.clock(),
        )
        meta = doc["metadata"]
        if status.to_document() != prev.to_document():
            self.api.patch_status(meta["namespace"], meta["name"], status.to_document(), meta.get("resourceVersion"))
            self._post(doc, JobEvent("Warning", "InvalidSpec", message))
        return None

    def _post(self, doc: dict[str, Any], event: JobEvent) -> None:
        try:
            self.api.post_event(doc, event)
        except Exception as e:  # an Event is a report, never a reason to fail a reconcile
            log.warning("could not post event %s for %s: %s", event.reason, doc["metadata"]["name"], e)
