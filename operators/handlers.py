"""kopf handlers: a few lines each, all roads lead to ``Reconciler.reconcile``.

Run: ``kopf run --all-namespaces --standalone -m seer.operators.handlers`` (or
``python -m seer.operators.main``, which also serves metrics and liveness).

Triggers (level-based; every trigger just asks for one reconcile of one job):
- a SeerJob is created, resumed (operator start) or its spec/labels change;
- any pod the operator manages changes (the kubelet updated a worker), or a Kueue Workload
  it made (admitted, evicted; without Kueue installed kopf only warns that it cannot watch it);
- a timer every ``SEER_OPERATOR_RESYNC_SECONDS`` (default 30 s), which also
  scrapes the trainer's progress into the status;
- a backoff ends (a one-shot timer armed by the reconcile itself).
Reconciles of one job never overlap: a trigger that arrives while one runs marks
the job dirty and the running one goes round once more (coalescing), so a burst
of pod events costs one or two reconciles, not one each.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import kopf

from seer.operators import kubeapi
from seer.operators.metrics import OperatorMetrics
from seer.operators.queueing import KUEUE_GROUP, KUEUE_VERSION, WORKLOADS
from seer.operators.reconciler import Reconciler
from seer.platform.contract import ANNOTATION_PREFIX, FINALIZER, LABEL_JOB, LABEL_MANAGED_BY, MANAGED_BY
from seer.platform.crd import PLURAL
from seer.platform.spec import API_GROUP, API_VERSION

log = logging.getLogger(__name__)

RESYNC_SECONDS = float(os.environ.get("SEER_OPERATOR_RESYNC_SECONDS", "30"))
JOBS = (API_GROUP, API_VERSION, PLURAL)


class Coalescer:
    """Run ``fn(key)`` at most once at a time per key; triggers during a run re-run it once."""

    def __init__(self) -> None:
        self._mu = threading.Lock()
        self._running: dict[Any, bool] = {}  # key -> dirty

    def run(self, key: Any, fn: Callable[[], None]) -> None:
        with self._mu:
            if key in self._running:
                self._running[key] = True
                return
            self._running[key] = False
        try:
            while True:
                fn()
                with self._mu:
                    if not self._running[key]:
                        del self._running[key]
                        return
                    self._running[key] = False
        except BaseException:
            with self._mu:
                self._running.pop(key, None)
            raise


class _State:
    reconciler: Reconciler | None = None
    metrics: OperatorMetrics = OperatorMetrics()
    coalescer = Coalescer()


STATE = _State()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # No kopf peering: replicas of one Deployment have equal priorities, and kopf then pauses them all.
    # One operator acts at a time by holding a Lease before kopf starts (seer.operators.leader).
    settings.peering.standalone = True
    settings.scanning.disabled = True  # no CRD/namespace watching: least privilege
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = FINALIZER
    settings.posting.level = logging.WARNING  # decisions are posted by the reconciler
    settings.execution.max_workers = int(os.environ.get("SEER_OPERATOR_WORKERS", "16"))
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    # NOTE: the resync timer gives every SeerJob kopf's finalizer. If a job is deleted
    # while the timer's (synchronous) reconcile is running, kopf re-checks whether the
    # timer exited only every `cancellation_polling` seconds (default 60) and keeps the
    # finalizer meanwhile: deletion then hangs for a minute. A reconcile takes
    # milliseconds, so wait briefly for it and poll every second.
    settings.background.instant_exit_timeout = 0.5
    settings.background.cancellation_polling = 1.0
    STATE.reconciler = Reconciler(kubeapi.connect(), STATE.metrics)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Service account in a cluster, else ``$KUBECONFIG`` (read now, not at import)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def kick(namespace: str, name: str, scrape: bool = False) -> None:
    """Reconcile now (coalesced); arm a one-shot timer if the plan asks to come back."""
    reconciler = STATE.reconciler
    assert reconciler is not None, "startup handler ran"
    requeue: list[float | None] = [None]

    def once() -> None:
        requeue[0] = reconciler.reconcile(namespace, name, scrape=scrape)

    STATE.coalescer.run((namespace, name), once)
    if requeue[0] is not None:
        timer = threading.Timer(requeue[0] + 0.05, kick, args=(namespace, name))
        timer.daemon = True
        timer.start()


@kopf.on.resume(*JOBS)
@kopf.on.create(*JOBS)
@kopf.on.update(*JOBS)
def on_job_change(namespace: str, name: str, **_: Any) -> None:
    kick(namespace, name)


@kopf.on.event("", "v1", "pods", labels={LABEL_MANAGED_BY: MANAGED_BY})
@kopf.on.event(KUEUE_GROUP, KUEUE_VERSION, WORKLOADS, labels={LABEL_MANAGED_BY: MANAGED_BY})  # admitted/evicted
def on_pod_event(namespace: str, labels: dict[str, str], **_: Any) -> None:
    job = labels.get(LABEL_JOB)
    if job:
        kick(namespace, job)


@kopf.timer(*JOBS, interval=RESYNC_SECONDS, sharp=False)
def resync(namespace: str, name: str, **_: Any) -> None:
    kick(namespace, name, scrape=True)


@kopf.on.delete(*JOBS, optional=True)
def on_job_deleted(namespace: str, name: str, **_: Any) -> None:
    STATE.metrics.forget_job(namespace, name)
