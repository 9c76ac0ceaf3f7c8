"""The reconcile decision: (job, its status, observed children, now) -> Plan (pure).

The kopf handlers only fetch what exists, call :func:`desired_children` and apply
the Plan. Every rule of the operator is here and is tested table-driven.

Invariants:
- Level-triggered: the plan depends only on its arguments, never on what happened
  in an earlier call, so running it twice, or after an operator restart, asks for
  the same pod names (idempotent with create-if-missing).
- ``restarts`` never decreases, and is at least the largest restart suffix of any
  observed worker pod: if the operator died after creating a replacement but before
  writing the status, the next reconcile counts that restart, not a second one.
- Apply order (reconciler): create, then delete, then write status.
- Terminal phases (Succeeded, Failed) are sticky; what still runs is stopped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from seer.operators.blocked import Blocked, blocked_pod
from seer.operators.children import (
    ANNOTATION_FAILURE_EVENT,
    grace_period_seconds,
    rendezvous_name,
    rendezvous_pod,
    rendezvous_service,
    worker_pod,
)
from seer.operators.failures import classify_pod_failure, failure_time
from seer.operators.gang import pod_group, uses_gang
from seer.operators.queueing import (
    Admission,
    admission,
    place_on_flavors,
    status_update,
    uses_queue,
    workload,
    workload_name,
)
from seer.platform.contract import (
    ANNOTATION_SPEC_HASH,
    CONTAINER_RENDEZVOUS,
    ENV_JOB_SPEC,
    LABEL_RESTART,
    LABEL_ROLE,
    LABEL_SLOT,
    ROLE_RENDEZVOUS,
    ROLE_WORKER,
)
from seer.platform.kube.status import Condition, Phase, SeerJobStatus, parse_rfc3339, rfc3339
from seer.platform.restart_policy import Failure, Verdict, jitter_rng, never_retried, verdict
from seer.platform.spec import SeerJob


@dataclass(frozen=True)
class Observed:
    """The job's children as the API server listed them (raw dicts)."""

    pods: tuple[dict[str, Any], ...] = ()
    services: tuple[dict[str, Any], ...] = ()
    #: The job's Kueue Workload and gang PodGroup (listed only when the job uses them).
    workloads: tuple[dict[str, Any], ...] = ()
    pod_groups: tuple[dict[str, Any], ...] = ()
    #: The Kueue ResourceFlavors the Workload was admitted onto (``queueing.flavor_names``).
    flavors: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Deletion:
    kind: str  # "Pod", or "Workload" / "PodGroup" (with their api_version)
    name: str
    grace_seconds: int | None = None  # None: the object's own default
    api_version: str = "v1"


@dataclass(frozen=True)
class JobEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """A condition beside the phase ones (``RendezvousReady``...): what a reconcile saw.

    Recomputed by every reconcile that observes it (level-triggered); its
    ``lastTransitionTime`` moves only when ``status`` flips."""

    type: str
    status: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    create: tuple[dict[str, Any], ...]
    delete: tuple[Deletion, ...]
    status: SeerJobStatus
    events: tuple[JobEvent, ...]
    #: One entry per worker replaced in this plan: the ``restart.retryOn`` cause.
    restart_causes: tuple[str, ...] = ()
    #: Come back after this many seconds (a backoff is running), else None.
    requeue_after: float | None = None
    #: The status to write on the job's Kueue Workload (``queueing.status_update``), else None.
    workload_status: dict[str, Any] | None = None
    #: The resourceVersion that status was computed from: written only over it (Kueue writes there too).
    workload_version: str | None = None


# ----------------------------------------------------------------------------- pods


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return _meta(obj).get("labels") or {}


def _terminating(obj: dict[str, Any]) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def _finished(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or _terminating(pod):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _int_label(pod: dict[str, Any], key: str) -> int:
    try:
        return int(_labels(pod).get(key, "-1"))
    except ValueError:
        return -1


@dataclass
class _Slots:
    """Worker pods by slot, newest (highest restart suffix) last."""

    by_slot: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, pods: tuple[dict[str, Any], ...]) -> "_Slots":
        slots = cls()
        for pod in pods:
            if _labels(pod).get(LABEL_ROLE) == ROLE_WORKER and _int_label(pod, LABEL_SLOT) >= 0:
                slots.by_slot[_int_label(pod, LABEL_SLOT)].append(pod)
        for pods_ in slots.by_slot.values():
            pods_.sort(key=lambda p: _int_label(p, LABEL_RESTART))
        return slots

    def newest(self) -> dict[int, dict[str, Any]]:
        return {slot: pods[-1] for slot, pods in self.by_slot.items()}

    def all(self) -> list[dict[str, Any]]:
        return [p for pods in self.by_slot.values() for p in pods]


# --------------------------------------------------------------------------- status

_PHASE_CONDITIONS = (Phase.running, Phase.restarting, Phase.suspended, Phase.succeeded, Phase.failed)


def next_status(
    prev: SeerJobStatus,
    *,
    phase: Phase,
    reason: str,
    message: str,
    nodes_ready: int,
    nodes_desired: int,
    restarts: int,
    generation: int | None,
    now: datetime,
    observations: tuple[Observation, ...] = (),
) -> SeerJobStatus:
    """The status after a reconcile: one condition per phase type (the current one
    True, earlier True ones flipped to False), then the ``observations`` (other
    conditions, kept as they were when not observed), start/completion times set
    once, trainer-reported progress (step, checkpoint) carried over untouched."""
    stamp = rfc3339(now)
    conditions = {c.type: c for c in prev.conditions}
    for kind in _PHASE_CONDITIONS:
        old = conditions.get(kind.value)
        if kind == phase:
            changed = old is None or old.status != "True"
            conditions[kind.value] = Condition(
                type=kind.value,
                status="True",
                reason=reason,
                message=message,
                last_transition_time=stamp if changed else old.last_transition_time,
            )
        elif old is not None and old.status == "True":
            conditions[kind.value] = old.model_copy(update={"status": "False", "last_transition_time": stamp})
    for seen in observations:
        old = conditions.get(seen.type)
        value = "True" if seen.status else "False"
        conditions[seen.type] = Condition(
            type=seen.type,
            status=value,
            reason=seen.reason,
            message=seen.message,
            last_transition_time=old.last_transition_time if old is not None and old.status == value else stamp,
        )
    phase_types = [k.value for k in _PHASE_CONDITIONS]
    start = prev.start_time or (stamp if phase == Phase.running else None)
    completion = prev.completion_time or (stamp if phase.terminal else None)
    return prev.model_copy(
        update={
            "phase": phase,
            "conditions": [conditions[t] for t in phase_types if t in conditions]
            + [c for t, c in conditions.items() if t not in phase_types],
            "observed_generation": generation,
            "nodes_ready": nodes_ready,
            "nodes_desired": nodes_desired,
            "restarts": max(restarts, prev.restarts),
            "start_time": start,
            "completion_time": completion,
        }
    )


# ----------------------------------------------------------------------------- plan


def _running_job(job: SeerJob, pods: tuple[dict[str, Any], ...]) -> tuple[SeerJob, list[str]] | None:
    """The job the live workers run and the spec sections that differ from ``job``'s,
    or None when they run ``job``'s spec (or it cannot be read back from them).

    Read from a live worker's ``SEER_JOB_SPEC`` (the spec it was started with), not only
    its spec-hash annotation: after an operator upgrade that adds a defaulted field
    the hash differs while the spec does not."""
    current = job.spec_hash()
    for pod in sorted(pods, key=lambda p: _meta(p).get("name", "")):
        if _labels(pod).get(LABEL_ROLE) != ROLE_WORKER or _terminating(pod) or _finished(pod):
            continue
        if (_meta(pod).get("annotations") or {}).get(ANNOTATION_SPEC_HASH) in (None, current):
            continue
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        env = {e.get("name"): e.get("value") for e in containers[0].get("env") or []}
        try:
            running = SeerJob.model_validate(json.loads(env[ENV_JOB_SPEC]))
        except (KeyError, TypeError, ValueError):
            continue
        ours = job.spec.model_dump(mode="json", by_alias=True, exclude={"suspend"})
        theirs = running.spec.model_dump(mode="json", by_alias=True, exclude={"suspend"})
        changed = [f"spec.{key}" for key in ours if ours[key] != theirs.get(key)]
        if not changed:
            return None
        spec = running.spec.model_copy(update={"suspend": job.spec.suspend})
        return SeerJob.model_construct(
            api_version=job.api_version, kind=job.kind, metadata=job.metadata, spec=spec
        ), changed
    return None


def _refuse_running_edits(
    job: SeerJob,
    pods: tuple[dict[str, Any], ...],
    prev: SeerJobStatus,
    events: list[JobEvent],
    observations: list[Observation],
) -> SeerJob:
    """The job to reconcile: the spec the live workers run when the stored spec was edited
    under them (refused, with the ``SpecChangeRefused`` condition and one Event), else
    ``job``. The CRD refuses such edits at admission (``immutable_while_running``); this
    covers a CRD installed without the rule, and edits made by other means. A suspended
    job has no running spec to keep: the edit applies to all its next pods alike."""
    before = prev.condition("SpecChangeRefused")
    running = None if job.spec.suspend else _running_job(job, pods)
    if running is None:
        if before is not None and before.status == "True":
            observations.append(Observation("SpecChangeRefused", False, "SpecApplied", "no edit is pending"))
        return job
    kept, changed = running
    message = (
        f"{', '.join(changed)} changed while the job runs: every worker keeps the spec it started with "
        f"(spec hash {kept.spec_hash()}), so one group never mixes two specs. To apply the edit, suspend the "
        "job (spec.suspend: true) and resume it (the workers restart from the latest checkpoint with the new "
        "spec); or revert the edit"
    )
    if before is None or before.status != "True" or before.message != message:
        events.append(JobEvent("Warning", "SpecChangeRefused", message))
    observations.append(Observation("SpecChangeRefused", True, "SpecChangedWhileRunning", message))
    return kept


def _stop_all(pods: list[dict[str, Any]], job: SeerJob, *, keep_finished: bool) -> list[Deletion]:
    """Delete what still runs; workers get the checkpoint grace period."""
    out = []
    for pod in pods:
        if _terminating(pod) or (keep_finished and _finished(pod)):
            continue
        worker = _labels(pod).get(LABEL_ROLE) == ROLE_WORKER
        out.append(Deletion("Pod", _meta(pod)["name"], grace_period_seconds(job) if worker else None))
    return out


def observed_kinds(job: SeerJob) -> dict[str, tuple[str, str, str]]:
    """Custom children to list besides pods and Services: ``Observed`` field -> (group, version, plural).

    Only what the job uses: a cluster without Kueue or a gang scheduler has neither CRD."""
    from seer.operators.gang import POD_GROUP_API
    from seer.operators.queueing import KUEUE_GROUP, KUEUE_VERSION, WORKLOADS

    kinds = {}
    if uses_queue(job):
        kinds["workloads"] = (KUEUE_GROUP, KUEUE_VERSION, WORKLOADS)
    if uses_gang(job):
        group, version = POD_GROUP_API[job.spec.scheduling.gang][0].split("/")
        kinds["pod_groups"] = (group, version, "podgroups")
    return kinds


def desired_children(
    job: SeerJob,
    uid: str,
    generation: int | None,
    prev: SeerJobStatus,
    observed: Observed,
    now: datetime,
) -> Plan:
    """Decide what to create, delete and report for one SeerJob.

    With ``scheduling.queue`` no pod runs unless Kueue admitted the job's Workload; an
    evicted job is stopped exactly like a suspended one (final checkpoint), see ``queueing``."""
    wanted = _scheduling_manifests(job, uid)
    stale = _stale(observed, wanted)
    current = tuple(w for w in observed.workloads if w not in stale)
    gate = admission(job, current) if uses_queue(job) else None
    if gate is not None and any(o in observed.workloads for o in stale):
        gate = Admission(
            False, "WaitingForAdmission", f"{_STALE_MESSAGE}; replacing Workload {workload_name(job.name)}"
        )
    plan = _decide(job, uid, generation, prev, observed, now, gate)
    return _scheduling_objects(job, observed, current, wanted, stale, plan, now)


#: Why a Workload or PodGroup is replaced (its podSets are immutable in Kueue; minMember follows nodes.min).
_STALE_MESSAGE = "the job's queue, nodes or resources changed while it was suspended"


def _scheduling_manifests(job: SeerJob, uid: str) -> dict[str, dict[str, Any]]:
    """The Workload and PodGroup the job should have, by kind (only those it uses)."""
    if not (uses_queue(job) or uses_gang(job)):
        return {}
    template = worker_pod(job, uid, 0, 0)
    labels = {k: v for k, v in _labels(template).items() if k not in (LABEL_SLOT, LABEL_RESTART, LABEL_ROLE)}
    owner = template["metadata"]["ownerReferences"][0]
    out = {}
    if uses_gang(job):
        out["PodGroup"] = pod_group(job, owner, labels, template["spec"]["containers"][0]["resources"]["requests"])
    if uses_queue(job):
        out["Workload"] = workload(job, owner, labels, template)
    return out


def _essence(obj: dict[str, Any]) -> Any:
    """What decides whether an existing Workload/PodGroup still fits (fields Kueue or a webhook
    may default or add are left out)."""
    spec = obj.get("spec") or {}
    if "podSets" in spec:
        sets = [
            (
                s.get("name"),
                s.get("count"),
                s.get("minCount"),
                [
                    ((c.get("resources") or {}).get("requests"))
                    for c in ((s.get("template") or {}).get("spec") or {}).get("containers") or []
                ],
            )
            for s in spec.get("podSets") or []
        ]
        return spec.get("queueName"), sets
    return spec.get("minMember"), spec.get("minResources")


def _stale(observed: Observed, wanted: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Existing Workloads/PodGroups that no longer fit the spec, once no pod of the job is left
    (the spec only changes while suspended; with pods still stopping, wait for them)."""
    if observed.pods:
        return []
    out = []
    for obj in observed.workloads + observed.pod_groups:
        want = next((w for w in wanted.values() if _meta(w).get("name") == _meta(obj).get("name")), None)
        if want is not None and obj.get("kind", want["kind"]) == want["kind"] and _essence(obj) != _essence(want):
            out.append(obj)
    return out


def _scheduling_objects(
    job: SeerJob,
    observed: Observed,
    workloads: tuple[dict[str, Any], ...],
    wanted: dict[str, dict[str, Any]],
    stale: list[dict[str, Any]],
    plan: Plan,
    now: datetime,
) -> Plan:
    """Add the Workload and the PodGroup (created first: before any pod; a stale one is deleted
    and made again next round), the Workload's status, and put new workers on the flavors Kueue
    admitted them onto."""
    terminal = Phase(plan.status.phase).terminal
    first: list[dict[str, Any]] = []
    if not terminal:
        names = {_meta(o).get("name") for o in observed.workloads + observed.pod_groups}
        first = [m for m in wanted.values() if _meta(m)["name"] not in names]
    removed = tuple(
        Deletion(o.get("kind") or "", _meta(o)["name"], api_version=o.get("apiVersion") or "")
        for o in stale
        if not _meta(o).get("deletionTimestamp")
    )
    update = (
        status_update(
            job,
            workloads,
            terminal=terminal,
            pods_left=len(observed.pods),
            now=now,
            running=plan.status.phase == Phase.running,
        )
        if uses_queue(job)
        else None
    )
    create = tuple(
        place_on_flavors(m, observed.flavors) if m["kind"] == "Pod" and _labels(m).get(LABEL_ROLE) == ROLE_WORKER else m
        for m in plan.create
    )
    if not first and not removed and update is None and create == plan.create:
        return plan
    return Plan(
        (*first, *create),
        (*plan.delete, *removed),
        plan.status,
        plan.events,
        plan.restart_causes,
        plan.requeue_after,
        update,
        next(
            (_meta(w).get("resourceVersion") for w in workloads if _meta(w).get("name") == workload_name(job.name)),
            None,
        )
        if update is not None
        else None,
    )


def _decide(
    job: SeerJob,
    uid: str,
    generation: int | None,
    prev: SeerJobStatus,
    observed: Observed,
    now: datetime,
    gate: Admission | None,
) -> Plan:
    events: list[JobEvent] = []
    observations: list[Observation] = []
    job = _refuse_running_edits(job, observed.pods, prev, events, observations)
    spec = job.spec
    nodes = spec.resources.nodes
    slots = _Slots.of(observed.pods)
    newest = slots.newest()
    rdzv_pods = [p for p in observed.pods if _labels(p).get(LABEL_ROLE) == ROLE_RENDEZVOUS]
    all_pods = slots.all() + rdzv_pods
    restarts = max([prev.restarts] + [_int_label(p, LABEL_RESTART) for p in slots.all()])
    # Kueue may admit fewer than nodes.max (partial admission): run only the admitted count.
    width = nodes.max if gate is None or gate.count is None else max(nodes.min, min(nodes.max, gate.count))
    ready = sum(1 for slot, pod in newest.items() if slot < width and is_ready(pod))

    def finish(
        phase: Phase, reason: str, message: str, create=(), delete=(), desired=0, causes=(), requeue=None
    ) -> Plan:
        status = next_status(
            prev,
            phase=phase,
            reason=reason,
            message=message,
            nodes_ready=ready,
            nodes_desired=desired,
            restarts=restarts,
            generation=generation,
            now=now,
            observations=tuple(observations),
        )
        if prev.phase != phase:
            kind = "Warning" if phase in (Phase.failed, Phase.restarting) else "Normal"
            events.append(JobEvent(kind, reason, message))
        return Plan(tuple(create), tuple(delete), status, tuple(events), tuple(causes), requeue)

    # Terminal: stay there, stop what still runs, keep finished pods for their logs.
    if Phase(prev.phase).terminal:
        return finish(
            Phase(prev.phase),
            _current_reason(prev),
            _current_message(prev),
            delete=_stop_all(all_pods, job, keep_finished=True),
        )

    if any((p.get("status") or {}).get("phase") == "Succeeded" for p in newest.values()):
        return finish(
            Phase.succeeded,
            "TrainingComplete",
            "the trainer finished successfully",
            delete=_stop_all(all_pods, job, keep_finished=True),
        )

    # The restart policy (seer.platform.restart_policy) decides; the budget is checked
    # below, per replacement, so only causes that are never retried fail the job here.
    failures: dict[int, tuple[dict[str, Any], Failure]] = {}
    for slot, pod in sorted(newest.items()):
        if slot >= width:  # beyond what Kueue admitted: removed below, not replaced
            continue
        failure = classify_pod_failure(pod)
        if failure is None:
            continue
        refused = never_retried(failure, spec.restart)
        if refused is not None:
            return finish(
                Phase.failed, refused.reason, refused.message, delete=_stop_all(all_pods, job, keep_finished=True)
            )
        failures[slot] = (pod, failure)

    if spec.suspend or (gate is not None and not gate.admitted):
        stopping = _stop_all(all_pods, job, keep_finished=False)
        remaining = len(all_pods)
        observations.extend(_suspended_observations(prev))
        if spec.suspend:
            reason = "SuspendRequested"
            message = (
                f"suspended: stopping {remaining} pod(s) after a final checkpoint"
                if remaining
                else "suspended: all workers stopped; set spec.suspend to false to resume from the latest checkpoint"
            )
        else:  # the queue's suspend: the same stop, Kueue decides when it ends
            assert gate is not None
            reason = gate.reason
            if remaining:
                message = f"{gate.message}; stopping {remaining} pod(s) after a final checkpoint"
            elif gate.evicted:
                message = (
                    f"{gate.message}; the workers stopped after a final checkpoint and resume from it when readmitted"
                )
            else:
                message = f"{gate.message}; no worker runs until Kueue admits the job"
        return finish(Phase.suspended, reason, message, delete=stopping)

    store = _rendezvous_changes(job, uid, observed.services, rdzv_pods, newest, prev)
    create, delete = store.create, store.delete
    events.extend(store.events)
    observations.append(store.condition)
    if store.regroup:  # the store is gone: torchrun agents cannot reconnect to its replacement
        restarts += 1
        delete.extend(Deletion("Pod", _meta(pod)["name"], grace_period_seconds(job)) for pod in store.regroup)
        events.append(JobEvent("Warning", "WorkersRegrouping", _REGROUP_MESSAGE.format(restarts=restarts)))
    delete.extend(_superseded_workers(job, slots, width))
    create.extend(worker_pod(job, uid, slot, restarts) for slot in range(width) if slot not in newest)

    replaced = _replace_failed(job, uid, failures, restarts, current_failure_event(slots.all(), restarts), now)
    restarts = replaced.restarts
    create.extend(replaced.create)
    delete.extend(replaced.delete)
    events.extend(replaced.events)
    if replaced.budget_spent is not None:
        return finish(
            Phase.failed,
            replaced.budget_spent.reason,
            replaced.budget_spent.message,
            delete=_stop_all(all_pods, job, keep_finished=True),
            causes=replaced.causes,
        )

    if store.stopping:  # a worker made now would outlive the store it finds: wait for the new one
        create = [m for m in create if _labels(m).get(LABEL_ROLE) != ROLE_WORKER]
    requeue = replaced.requeue_after
    blocked = [b for pod in [*(p for s, p in newest.items() if s < width), *rdzv_pods] if (b := blocked_pod(pod))]
    condition, blocked_events = _blocked_condition(blocked, prev, job, ready < nodes.min)
    observations.extend(condition)
    events.extend(blocked_events)
    if blocked and ready < nodes.min:  # the job cannot reach nodes.min: wait, but not forever
        timeout = spec.restart.pending_timeout_seconds
        deadline = min(b.since or now for b in blocked) + timedelta(seconds=timeout)
        if now >= deadline:
            return finish(
                Phase.failed,
                "PendingTimeout",
                f"{blocked[0].message}; still so after {timeout} s (restart.pendingTimeoutSeconds)",
                delete=_stop_all(all_pods, job, keep_finished=True),
                causes=replaced.causes,
            )
        wait = (deadline - now).total_seconds()
        requeue = wait if requeue is None else min(requeue, wait)
    phase, reason, message = _steady_phase(ready, nodes.min, width, bool(failures), Phase(prev.phase))
    if blocked and phase != Phase.running:
        message = f"{message}; {blocked[0].message}"
    return finish(
        phase,
        reason,
        message,
        create=create,
        delete=delete,
        desired=width,
        causes=replaced.causes,
        requeue=requeue,
    )


def _suspended_observations(prev: SeerJobStatus) -> list[Observation]:
    """While suspended no store serves and no pod is blocked: say so rather than keep stale news."""
    out = [Observation("RendezvousReady", False, "Suspended", "the job is suspended")]
    blocked = prev.condition("WorkersBlocked")
    if blocked is not None and blocked.status == "True":
        out.append(Observation("WorkersBlocked", False, "Suspended", "the job is suspended"))
    return out


def _blocked_condition(
    blocked: list[Blocked], prev: SeerJobStatus, job: SeerJob, below_min: bool
) -> tuple[list[Observation], list[JobEvent]]:
    """``WorkersBlocked``: True while a pod cannot start (the first one's reason and fix),
    with an Event when it appears or its reason changes; False once none is blocked
    (absent on jobs that never had one)."""
    before = prev.condition("WorkersBlocked")
    if not blocked:
        if before is None:
            return [], []
        return [Observation("WorkersBlocked", False, "NoneBlocked", "every pod could start")], []
    first = blocked[0]
    message = first.message + (f" (and {len(blocked) - 1} more pod(s))" if len(blocked) > 1 else "")
    if below_min:
        timeout = job.spec.restart.pending_timeout_seconds
        message += f"; the job fails if fewer than nodes.min workers can start for {timeout} s"
    events = []
    if before is None or before.status != "True" or before.reason != first.reason:
        events.append(JobEvent("Warning", first.reason, message))
    return [Observation("WorkersBlocked", True, first.reason, message)], events


@dataclass
class _StoreChanges:
    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[Deletion] = field(default_factory=list)
    events: list[JobEvent] = field(default_factory=list)
    #: Live workers still bound to a store that is gone: delete them gracefully (final checkpoint).
    regroup: list[dict[str, Any]] = field(default_factory=list)
    #: The old store pod is terminating: create no worker until its replacement exists.
    stopping: bool = False
    condition: Observation = Observation("RendezvousReady", False, "StoreStarting", "")


def _timestamp(text: str | None) -> datetime | None:
    return parse_rfc3339(text) if text else None


def _store_started(pod: dict[str, Any]) -> datetime | None:
    """When the store a worker can reach now came to be: the pod's creation, or the end
    of its container's previous run (``restartPolicy: Always`` restarts it in place,
    empty). Workers created before this talk to an older store."""
    born = _timestamp(_meta(pod).get("creationTimestamp"))
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER_RENDEZVOUS:
            ended = _timestamp(((status.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            if ended is not None and (born is None or ended > born):
                born = ended
    return born


def _rendezvous_changes(
    job: SeerJob,
    uid: str,
    services: tuple[dict[str, Any], ...],
    rdzv_pods: list[dict[str, Any]],
    newest: dict[int, dict[str, Any]],
    prev: SeerJobStatus,
) -> _StoreChanges:
    """One Service and one store pod, and who is bound to a lost store (level-triggered).

    The store is lost when its pod stopped, vanished while workers run (deleted, or
    garbage-collected after its node was lost), or its container restarted in place;
    every live worker created before the store it can reach now is regrouped (see
    ``_REGROUP_MESSAGE``). Workers are created together with the store pod (store
    first), never while the old one terminates, so a regrouped worker is never
    regrouped again."""
    out = _StoreChanges()
    name = rendezvous_name(job.name)
    if not any(_meta(s).get("name") == name for s in services):
        out.create.append(rendezvous_service(job, uid))
    live_workers = [p for p in newest.values() if not _terminating(p) and not _finished(p)]
    current = [p for p in rdzv_pods if not _terminating(p)]
    out.stopping = bool(rdzv_pods) and not current
    lost = ""
    for pod in current:
        if _finished(pod):
            out.delete.append(Deletion("Pod", _meta(pod)["name"]))
            lost = f"rendezvous pod {name} stopped; recreating it"
    if not rdzv_pods:
        out.create.append(rendezvous_pod(job, uid))
        if live_workers:
            lost = f"rendezvous pod {name} disappeared (deleted, or its node was lost); recreating it"
    if lost:
        out.regroup = live_workers
    else:
        serving = [p for p in current if not _finished(p)]
        started = _store_started(serving[0]) if serving else None
        out.regroup = [
            p
            for p in live_workers
            if started is not None and (born := _timestamp(_meta(p).get("creationTimestamp"))) and born < started
        ]
        if out.regroup:
            lost = f"rendezvous store {name} was replaced or restarted after workers joined it"
    if lost:
        out.events.append(JobEvent("Warning", "RendezvousReplaced", lost))
    ready = any(is_ready(p) for p in current)
    before = prev.condition("RendezvousReady")
    if lost or (not ready and before is not None and before.reason == "RendezvousReplaced"):
        message = lost or before.message  # type: ignore[union-attr]
        out.condition = Observation("RendezvousReady", False, "RendezvousReplaced", message)
    elif ready:
        out.condition = Observation("RendezvousReady", True, "StoreServing", f"rendezvous pod {name} is ready")
    else:
        out.condition = Observation("RendezvousReady", False, "StoreStarting", f"waiting for rendezvous pod {name}")
    return out


_REGROUP_MESSAGE = (
    "the rendezvous store was lost; its replacement starts empty and the workers' torchrun agents cannot "
    "reconnect to it (their exit barrier and any re-rendezvous would hang), so the workers write a final "
    "checkpoint and are recreated against the new store (restart {restarts})"
)


def _superseded_workers(job: SeerJob, slots: _Slots, width: int) -> list[Deletion]:
    """Older restarts of a slot, and every pod of a slot beyond ``width`` (``nodes.max``, or
    fewer when Kueue admitted fewer)."""
    nodes_max = width
    return [
        Deletion("Pod", _meta(pod)["name"], grace_period_seconds(job))
        for slot, pods in slots.by_slot.items()
        for pod in (pods[:-1] if slot < nodes_max else pods)
        if not _terminating(pod)
    ]


#: Pods whose failures begin within this many seconds of an event's first failure belong
#: to that event and cost one restart together: a lost node, a failed switch or a
#: preemption wave takes several workers at once, and each may be reported separately.
FAILURE_EVENT_WINDOW_SECONDS = 30.0


@dataclass
class _Replacements:
    restarts: int
    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[Deletion] = field(default_factory=list)
    events: list[JobEvent] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    requeue_after: float | None = None
    budget_spent: Verdict | None = None


def current_failure_event(pods: list[dict[str, Any]], restarts: int) -> datetime | None:
    """When the failure event behind restart number ``restarts`` began, as recorded on
    its replacement pods (None: that restart was no failure event, or none yet)."""
    stamps = [
        parse_rfc3339(stamp)
        for pod in pods
        if _int_label(pod, LABEL_RESTART) == restarts
        and (stamp := (_meta(pod).get("annotations") or {}).get(ANNOTATION_FAILURE_EVENT))
    ]
    return min(stamps) if stamps else None


def _replace_failed(
    job: SeerJob,
    uid: str,
    failures: dict[int, tuple[dict[str, Any], Failure]],
    restarts: int,
    event_start: datetime | None,
    now: datetime,
) -> _Replacements:
    """Replace retryable failed workers, one restart per failure *event* (level-triggered).

    Failures are taken in time order; one that began within
    :data:`FAILURE_EVENT_WINDOW_SECONDS` of the current event's first failure
    (``event_start``, read back from the replacements' annotation), of a pod older than
    the event, joins it: its replacement gets the event's restart number and spends no
    budget. Any other (a replacement failing again included) opens
    a new event: the restart policy decides (budget, backoff from the event's start)
    and every worker of the event is replaced after the same wait."""
    out = _Replacements(restarts)
    window = timedelta(seconds=FAILURE_EVENT_WINDOW_SECONDS)
    backoff_until: datetime | None = None  # set while the current event waits for its backoff
    event_number = restarts  # the restart number of the current event (once it restarts)
    timed = sorted(failures.items(), key=lambda item: (failure_time(item[1][0]) or now, item[0]))
    for slot, (pod, failure) in timed:
        failed_at = failure_time(pod) or now
        # A replacement made for the event that fails again is a new failure (a crash loop costs restarts).
        joins = (
            event_start is not None
            and abs(failed_at - event_start) <= window
            and _int_label(pod, LABEL_RESTART) < event_number
        )
        if not joins:
            # Seeded by (job uid, restart number): every reconcile computes the same jittered wait.
            decision = verdict(failure, restarts, job.spec.restart, jitter_rng(uid, restarts))
            if decision.action == "fail":
                out.budget_spent = decision
                break
            event_start, event_number = failed_at, restarts + 1
            backoff_until = failed_at + timedelta(seconds=decision.backoff_seconds)
            if backoff_until <= now:
                restarts += 1
                backoff_until = None
        if backoff_until is not None:
            wait = (backoff_until - now).total_seconds()
            out.requeue_after = wait if out.requeue_after is None else min(out.requeue_after, wait)
            out.events.append(
                JobEvent("Normal", "BackingOff", f"{failure.message}; replacing it in {wait:.0f}s (backoff)")
            )
            continue
        replacement = worker_pod(job, uid, slot, restarts, failure_event=event_start)
        out.create.append(replacement)
        out.causes.append(failure.cause.value if failure.cause else "unknown")
        if not _terminating(pod):
            out.delete.append(Deletion("Pod", _meta(pod)["name"], grace_period_seconds(job)))
        out.events.append(
            JobEvent(
                "Warning",
                f"Worker{failure.reason}",
                f"{failure.message}; replaced by {replacement['metadata']['name']} "
                f"(restart {restarts} of {job.spec.restart.max_restarts}; pods failing within "
                f"{FAILURE_EVENT_WINDOW_SECONDS:.0f} s of each other count once)",
            )
        )
    out.restarts = restarts
    return out


def _steady_phase(
    ready: int, nodes_min: int, nodes_max: int, workers_failed: bool, previous: Phase
) -> tuple[Phase, str, str]:
    """Running with at least ``nodes.min`` ready workers; else Restarting after losses, Pending before."""
    if ready >= nodes_min:
        return Phase.running, "WorkersReady", f"running on {ready} of {nodes_max} nodes (min {nodes_min})"
    if workers_failed or previous in (Phase.running, Phase.restarting):
        reason = "WorkersLost" if workers_failed else "WaitingForWorkers"
        return Phase.restarting, reason, f"{ready} of {nodes_min} required workers ready; replacing lost workers"
    return Phase.pending, "WaitingForWorkers", f"{ready} of {nodes_min} required workers ready"


def _current_reason(status: SeerJobStatus) -> str:
    cond = status.condition(Phase(status.phase).value)
    return cond.reason if cond else Phase(status.phase).value


def _current_message(status: SeerJobStatus) -> str:
    cond = status.condition(Phase(status.phase).value)
    return cond.message if cond else ""
