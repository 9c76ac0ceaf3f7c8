"""Kueue through the Workload route (``spec.scheduling.queue``): the Workload, its signals (pure).

Why a Workload of our own (Kueue's ``integrations.externalFrameworks``) rather than the
queue-name label on pods: it makes *admission* and *eviction* signals the operator reads,
so a preemption becomes what ``spec.suspend`` already is: every worker gets the
checkpoint grace period, writes a final checkpoint and exits 75, and on readmission new
workers resume from exactly that step (zero lost steps). Gated pods would be killed
without one.

The protocol, level-triggered like the rest of ``planning``:

- The operator creates ``<job>`` (a ``kueue.x-k8s.io/v1beta1`` Workload owned by the
  SeerJob; one podSet ``workers``: ``count = nodes.max``, ``minCount = nodes.min`` when
  smaller, the
  worker pod's requests) and runs no pod until it is admitted.
- Admitted: ``Admitted=True`` and not evicted. Evicted: ``Evicted=True`` or
  ``spec.active: false`` (Kueue's deactivation). Evicted wins over admitted: Kueue sets
  it on an admitted workload it wants back.
- Once an evicted job has no pod left, the operator gives the quota back (Kueue's
  contract for a framework that stops its own pods): ``status.admission`` cleared,
  ``QuotaReserved`` and ``Admitted`` False. Kueue then requeues it and, on readmission,
  sets ``Evicted`` back to False.
- Flavors: Kueue admits a podSet onto ResourceFlavors (``podSetAssignments[].flavors``); the
  workers get each flavor's ``nodeLabels`` as node selector and its ``tolerations``, as
  Kueue's own integrations do, so they land on the nodes whose quota they were given.
- While admitted, ``PodsReady`` is True once ``nodes.min`` workers are ready (phase Running),
  which Kueue's ``waitForPodsReady`` waits for (it evicts a workload that never gets there).
- A finished job (Succeeded/Failed) marks its Workload ``Finished=True`` so Kueue frees
  the quota; the Workload stays for the record and goes with the SeerJob.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seer.platform.kube.status import rfc3339
from seer.platform.spec import SeerJob

KUEUE_GROUP = "kueue.x-k8s.io"
KUEUE_VERSION = "v1beta1"
WORKLOADS = "workloads"
RESOURCE_FLAVORS = "resourceflavors"  # cluster-scoped
#: Kueue's label for the queue; also on our Workload so ``kubectl get workloads -l`` finds a queue's jobs.
QUEUE_LABEL = f"{KUEUE_GROUP}/queue-name"
POD_SET = "workers"


def workload_name(job: str) -> str:
    return job


def uses_queue(job: SeerJob) -> bool:
    return job.spec.scheduling.queue is not None


def _condition(workload: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (workload.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def _true(workload: dict[str, Any], kind: str) -> bool:
    cond = _condition(workload, kind)
    return cond is not None and cond.get("status") == "True"


@dataclass(frozen=True)
class Admission:
    """What Kueue says about the job's Workload."""

    admitted: bool
    reason: str  # Admitted | WaitingForAdmission | Evicted
    message: str
    evicted: bool = False
    #: Workers admitted (``status.admission.podSetAssignments[workers].count``); None: all of nodes.max.
    #: Fewer than nodes.max only with Kueue's partial admission (``minCount``).
    count: int | None = None


def admission(job: SeerJob, workloads: tuple[dict[str, Any], ...]) -> Admission:
    """Kueue's verdict on the job's Workload (absent: not yet created, so waiting)."""
    name = workload_name(job.name)
    queue = job.spec.scheduling.queue
    workload = next((w for w in workloads if (w.get("metadata") or {}).get("name") == name), None)
    if workload is None:
        return Admission(False, "WaitingForAdmission", f"creating Kueue Workload {name} in queue {queue}")
    if _true(workload, "Evicted") or (workload.get("spec") or {}).get("active") is False:
        cond = _condition(workload, "Evicted") or {}
        why = cond.get("message") or cond.get("reason") or "the Workload was deactivated (spec.active: false)"
        return Admission(False, "Evicted", f"Kueue evicted Workload {name}: {why}", evicted=True)
    if _true(workload, "Admitted"):
        assignments = ((workload.get("status") or {}).get("admission") or {}).get("podSetAssignments") or []
        count = next((a.get("count") for a in assignments if a.get("name") == POD_SET), None)
        count = count if isinstance(count, int) and count > 0 else None
        return Admission(True, "Admitted", f"Kueue admitted Workload {name} in queue {queue}", count=count)
    cond = _condition(workload, "QuotaReserved") or {}
    why = f": {cond['message']}" if cond.get("status") == "False" and cond.get("message") else ""
    return Admission(False, "WaitingForAdmission", f"waiting in Kueue queue {queue} for admission{why}")


def workload(job: SeerJob, owner: dict[str, Any], labels: dict[str, str], worker: dict[str, Any]) -> dict[str, Any]:
    """The job's Workload; ``worker``: a worker pod manifest (its scheduling-relevant fields)."""
    nodes = job.spec.resources.nodes
    pod = worker["spec"]

    def trimmed(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: c[k] for k in ("name", "image", "resources") if k in c} for c in containers]

    template_spec: dict[str, Any] = {"containers": trimmed(pod["containers"])}
    if pod.get("initContainers"):
        template_spec["initContainers"] = trimmed(pod["initContainers"])
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName", "schedulerName"):
        if pod.get(key):
            template_spec[key] = pod[key]
    spec: dict[str, Any] = {
        "queueName": job.spec.scheduling.queue,
        "podSets": [
            {"name": POD_SET, "count": nodes.max, "template": {"spec": template_spec}},
        ],
    }
    if nodes.min < nodes.max:  # elastic: Kueue may admit fewer (its PartialAdmission feature gate)
        spec["podSets"][0]["minCount"] = nodes.min
    if pod.get("priorityClassName"):
        spec["priorityClassName"] = pod["priorityClassName"]
        spec["priorityClassSource"] = "scheduling.k8s.io/priorityclass"
    return {
        "apiVersion": f"{KUEUE_GROUP}/{KUEUE_VERSION}",
        "kind": "Workload",
        "metadata": {
            "name": workload_name(job.name),
            "namespace": job.metadata.namespace,
            "labels": {**labels, QUEUE_LABEL: job.spec.scheduling.queue},
            "ownerReferences": [owner],
        },
        "spec": spec,
    }


def _set(conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, now: datetime) -> None:
    for cond in conditions:
        if cond.get("type") == kind:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = rfc3339(now)
            cond.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": rfc3339(now)}
    )


def status_update(
    job: SeerJob,
    workloads: tuple[dict[str, Any], ...],
    *,
    terminal: bool,
    pods_left: int,
    now: datetime,
    running: bool = False,
) -> dict[str, Any] | None:
    """The Workload status the operator writes now (None: nothing to write).

    Finished when the job is terminal; quota released once an evicted job has no pod left;
    while admitted, ``PodsReady`` says whether ``nodes.min`` workers are ready (``running``):
    Kueue's ``waitForPodsReady`` evicts a workload that does not get there in time."""
    name = workload_name(job.name)
    current = next((w for w in workloads if (w.get("metadata") or {}).get("name") == name), None)
    if current is None:
        return None
    status = dict(current.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or []]
    if terminal:
        if _true(current, "Finished"):
            return None
        _set(conditions, "Finished", "True", "JobFinished", f"SeerJob {job.name} finished", now)
        return {**status, "conditions": conditions}
    verdict = admission(job, workloads)
    if verdict.admitted:
        ready = "True" if running else "False"
        before = _condition(current, "PodsReady")
        if before is not None and before.get("status") == ready:
            return None
        why = "PodsReady" if running else "PodsNotReady"
        text = "nodes.min workers are ready" if running else "waiting for nodes.min workers to be ready"
        _set(conditions, "PodsReady", ready, why, text, now)
        return {**status, "conditions": conditions}
    if not verdict.evicted or pods_left or not (status.get("admission") or _true(current, "QuotaReserved")):
        return None
    message = "the workers wrote a final checkpoint and stopped; waiting to be readmitted"
    _set(conditions, "QuotaReserved", "False", "Pending", message, now)
    _set(conditions, "Admitted", "False", "NoReservation", message, now)
    return {**{k: v for k, v in status.items() if k != "admission"}, "admission": None, "conditions": conditions}


def flavor_names(job: SeerJob, workloads: tuple[dict[str, Any], ...]) -> tuple[str, ...]:
    """The ResourceFlavors Kueue admitted the workers onto (none while not admitted)."""
    verdict = admission(job, workloads)
    if not verdict.admitted:
        return ()
    name = workload_name(job.name)
    current = next(w for w in workloads if (w.get("metadata") or {}).get("name") == name)
    assignments = ((current.get("status") or {}).get("admission") or {}).get("podSetAssignments") or []
    flavors = next((a.get("flavors") or {} for a in assignments if a.get("name") == POD_SET), {})
    return tuple(sorted({str(f) for f in flavors.values()}))


def place_on_flavors(pod: dict[str, Any], flavors: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """A copy of worker ``pod`` on the admitted flavors: their node labels (a flavor's value wins:
    the quota was granted for its nodes) and tolerations (added once)."""
    if not flavors:
        return pod
    spec = dict(pod["spec"])
    selector = dict(spec.get("nodeSelector") or {})
    tolerations = list(spec.get("tolerations") or [])
    for flavor in flavors:
        selector.update((flavor.get("spec") or {}).get("nodeLabels") or {})
        for toleration in (flavor.get("spec") or {}).get("tolerations") or []:
            if toleration not in tolerations:
                tolerations.append(toleration)
    if selector:
        spec["nodeSelector"] = selector
    if tolerations:
        spec["tolerations"] = tolerations
    return {**pod, "spec": spec}
