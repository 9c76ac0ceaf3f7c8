"""TorchX scheduler ``seer``, for ``torchx run`` users: an AppDef becomes a SeerJob.

The Seer TorchX component puts the job document (JSON) in the role's
``SEER_JOB_SPEC`` environment variable; this scheduler takes it from there, sets
the namespace (runopt ``namespace``, else the kubeconfig context's) and creates the
SeerJob through the same path as ``seerctl submit -s kubernetes``
(``seer.platform.kube.resource``). The operator does the rest. App ids are
``<namespace>:<name>``. ``seerctl`` itself does not go through here: it has the job
already and creates the resource directly.

Registered under its own name next to TorchX's built-in schedulers (TorchX's own
``kubernetes`` scheduler, which creates a Volcano job, stays what it is): the entry-point
map also lists the built-ins, because torchx 0.7.0 drops them as soon as a package
registers any ``torchx.schedulers`` entry point (docs/architecture.md, "Dependency pins").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from torchx.schedulers.api import DescribeAppResponse, ListAppResponse, Scheduler, Stream
from torchx.specs import AppDef, AppDryRunInfo, AppState, ReplicaStatus, Role, RoleStatus, runopts

from seer.platform.backends.kube import cancel_seerjob, status_of
from seer.platform.contract import ENV_JOB_SPEC
from seer.platform.kube.client import KubeClient, kubeconfig_namespace, worker_slot
from seer.platform.kube.resource import create_seerjob, custom_resource
from seer.platform.kube.status import Phase
from seer.platform.spec import SeerJob

SPEC_ENV = ENV_JOB_SPEC
SCHEDULER_NAME = "seer"  # the entry-point name in pyproject.toml: `torchx run -s seer seer.train ...`

PHASE_TO_STATE: dict[str, AppState] = {
    Phase.pending.value: AppState.PENDING,
    Phase.running.value: AppState.RUNNING,
    Phase.restarting.value: AppState.RUNNING,  # still alive; torchx has no "restarting"
    Phase.suspended.value: AppState.PENDING,
    Phase.succeeded.value: AppState.SUCCEEDED,
    Phase.failed.value: AppState.FAILED,
    "Cancelling": AppState.RUNNING,  # `cancel`: workers still writing their final checkpoint
    "Cancelled": AppState.CANCELLED,  # suspended by `cancel` (backends.kube.status_of); the SeerJob stays
}


@dataclass
class SeerJobRequest:
    """What ``schedule`` will create: the job, where (its namespace) and through which
    kubeconfig context."""

    job: SeerJob
    context: str | None = None

    def __str__(self) -> str:
        return self.job.to_yaml()


def parse_app_id(app_id: str) -> tuple[str, str]:
    namespace, sep, name = app_id.partition(":")
    if not sep or not namespace or not name:
        raise ValueError(f"app id {app_id!r} is not <namespace>:<name> (e.g. default:my-job)")
    return namespace, name


def job_from_appdef(app: AppDef, namespace: str) -> SeerJob:
    """The SeerJob carried by the AppDef (first role's ``SEER_JOB_SPEC``), in ``namespace``."""
    for role in app.roles:
        raw = role.env.get(SPEC_ENV)
        if raw:
            doc = json.loads(raw)
            doc.setdefault("metadata", {})
            doc["metadata"]["namespace"] = namespace
            doc["metadata"].setdefault("name", _dns_name(app.name))
            return SeerJob.model_validate(doc)
    raise ValueError(
        f"AppDef {app.name!r} has no role with {SPEC_ENV} in its env: "
        "build it with the Seer component (seer.platform.torchx_components)"
    )


def _dns_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "seer-job"


class SeerKubernetesScheduler(Scheduler[dict[str, Any]]):
    def __init__(self, session_name: str, client: KubeClient | None = None) -> None:
        super().__init__(SCHEDULER_NAME, session_name)
        self._client = client
        self._context: str | None = None

    def client(self, context: str | None = None) -> KubeClient:
        if self._client is None or (context is not None and context != self._context):
            self._client, self._context = KubeClient.connect(context), context
        return self._client

    def _run_opts(self) -> runopts:
        opts = runopts()
        opts.add("context", type_=str, default=None, help="kubeconfig context (default: the current one)")
        opts.add(
            "namespace",
            type_=str,
            default=None,
            help="namespace of the SeerJob (default: the context's, else 'default')",
        )
        return opts

    def _submit_dryrun(self, app: AppDef, cfg: dict[str, Any]) -> AppDryRunInfo[SeerJobRequest]:
        namespace = cfg.get("namespace") or kubeconfig_namespace(cfg.get("context"))
        request = SeerJobRequest(job_from_appdef(app, namespace), context=cfg.get("context"))
        return AppDryRunInfo(request, lambda r: yaml.safe_dump(custom_resource(r.job), sort_keys=False))

    def schedule(self, dryrun_info: AppDryRunInfo[SeerJobRequest]) -> str:
        request = dryrun_info.request
        namespace, name = create_seerjob(self.client(request.context), request.job, request.job.metadata.namespace)
        return f"{namespace}:{name}"

    def describe(self, app_id: str) -> DescribeAppResponse | None:
        namespace, name = parse_app_id(app_id)
        doc = self.client().get(namespace, name)
        if doc is None:
            return None
        seen = status_of(doc)
        phase = seen.phase
        state = PHASE_TO_STATE.get(phase, AppState.UNKNOWN)
        message = seen.message
        replicas = [
            ReplicaStatus(id=i, state=state, role="worker", hostname=(p.get("status") or {}).get("podIP") or "")
            for i, p in enumerate(self.client().worker_pods(namespace, name))
        ]
        return DescribeAppResponse(
            app_id=app_id,
            state=state,
            num_restarts=seen.restarts,
            msg=message or phase,
            roles=[Role(name="worker", image=(doc.get("spec") or {}).get("resources", {}).get("image", ""))],
            roles_statuses=[RoleStatus("worker", replicas)],
        )

    def list(self) -> list[ListAppResponse]:
        namespace = kubeconfig_namespace(self._context)
        return [
            ListAppResponse(
                app_id=f"{d['metadata']['namespace']}:{d['metadata']['name']}",
                state=PHASE_TO_STATE.get(status_of(d).phase, AppState.UNKNOWN),
            )
            for d in self.client().list(namespace)
        ]

    def _cancel_existing(self, app_id: str) -> None:
        """``torchx cancel``: what ``seerctl cancel`` does (suspend after a final checkpoint, keep
        the SeerJob, status Cancelled); ``seerctl delete`` removes it."""
        namespace, name = parse_app_id(app_id)
        cancel_seerjob(self.client(), namespace, name)

    def log_iter(
        self,
        app_id: str,
        role_name: str = "worker",
        k: int = 0,
        regex: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        should_tail: bool = False,
        streams: Stream | None = None,
    ) -> Iterable[str]:
        """Lines of the newest worker pod of node slot ``k`` (``-f``: ``should_tail``)."""
        namespace, name = parse_app_id(app_id)
        pods = [p for p in self.client().worker_pods(namespace, name) if worker_slot(p) == str(k)]
        if not pods:
            return iter(())
        pattern = re.compile(regex) if regex else None
        lines = self.client().log_lines(namespace, pods[-1]["metadata"]["name"], follow=should_tail)
        return (line for line in lines if pattern is None or pattern.search(line))


def create_scheduler(session_name: str, **kwargs: Any) -> SeerKubernetesScheduler:
    """The ``torchx.schedulers`` entry point."""
    return SeerKubernetesScheduler(session_name=session_name, client=kwargs.get("client"))
