"""Why did a worker pod stop, and may the job go on? (pure)

Order of evidence, most specific first:
1. a ``DisruptionTarget`` condition (Kubernetes >= 1.26 sets it on preemption,
   API-initiated eviction, taint-manager/pod-GC deletion after node loss,
   kubelet node-pressure eviction) - retryable whatever the exit code;
2. the pod's ``status.reason`` (``Evicted``, ``Preempting``, ``NodeLost``, ``Shutdown``...);
3. the trainer container's termination: ``OOMKilled``; otherwise its exit status
   means what it means locally (``seer.platform.restart_policy.exit_failure``): 75
   preempted after a final checkpoint, >= 128 killed by signal 128+n (137 SIGKILL,
   143 SIGTERM) - retryable; 1..127 - application error, fatal.
A failed pod with no container record (lost before it started) counts as node loss.
What happens next (retry, backoff, budget) is ``restart_policy.verdict``'s call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seer.platform.contract import CONTAINER_TRAINER
from seer.platform.kube.status import parse_rfc3339
from seer.platform.restart_policy import (
    APPLICATION_ERROR,
    EVICTED,
    NODE_LOST,
    OOM_KILLED,
    PREEMPTED,
    Failure,
    exit_failure,
)
from seer.platform.spec import RestartReason

#: The operator's name for the policy's :class:`~seer.platform.restart_policy.Failure`.
FailureClass = Failure

#: The three infrastructure failures as (failure class, restart reason): one pairing for both tables below.
_PREEMPTION = (PREEMPTED, RestartReason.preemption)
_EVICTION = (EVICTED, RestartReason.eviction)
_NODE_LOSS = (NODE_LOST, RestartReason.node_loss)

#: The ``DisruptionTarget`` condition's reason.
_DISRUPTIONS: dict[str, tuple[str, RestartReason]] = {
    "PreemptionByScheduler": _PREEMPTION,
    "PreemptionByKubeScheduler": _PREEMPTION,
    "EvictionByEvictionAPI": _EVICTION,
    "TerminationByKubelet": _EVICTION,
    "DeletionByTaintManager": _NODE_LOSS,
    "DeletionByPodGC": _NODE_LOSS,
}

#: The pod's ``status.reason``.
_POD_REASONS: dict[str, tuple[str, RestartReason]] = {
    "Evicted": _EVICTION,
    "Preempting": _PREEMPTION,
    "Preempted": _PREEMPTION,
    "NodeLost": _NODE_LOSS,
    "Shutdown": _NODE_LOSS,
    "NodeShutdown": _NODE_LOSS,
    "Terminated": _NODE_LOSS,
    "UnexpectedAdmissionError": _NODE_LOSS,
}


def _condition(pod: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") == type_), None)


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    for cs in pod.get("status", {}).get("containerStatuses") or []:
        if cs.get("name") == CONTAINER_TRAINER:
            return (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
    return None


def classify_pod_failure(pod: dict[str, Any]) -> Failure | None:
    """None while the pod runs (or succeeded); else what its stop means for the job."""
    name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status", {})
    phase = status.get("phase")
    if phase == "Succeeded":
        return None
    disruption = _condition(pod, "DisruptionTarget")
    if disruption and disruption.get("status") == "True":
        reason, cause = _DISRUPTIONS.get(disruption.get("reason", ""), _EVICTION)
        detail = disruption.get("message") or disruption.get("reason") or "disrupted"
        return Failure(reason, cause, f"worker pod {name} was disrupted: {detail}")
    if phase != "Failed":
        return None
    if status.get("reason") in _POD_REASONS:
        reason, cause = _POD_REASONS[status["reason"]]
        return Failure(
            reason,
            cause,
            f"worker pod {name} failed: {status['reason']}: {status.get('message', '')}".rstrip(": "),
        )
    term = _terminated(pod)
    if term is None:
        return Failure(NODE_LOST, RestartReason.node_loss, f"worker pod {name} failed before its trainer ran")
    code = int(term.get("exitCode", 0))
    if term.get("reason") == "OOMKilled":
        return Failure(
            OOM_KILLED,
            RestartReason.oom_kill,
            f"worker pod {name} was OOM-killed (exit {code}): raise resources.memory or lower data.batchSize",
        )
    failure = exit_failure(code, f"worker pod {name}")
    if failure is None or failure.cause is None:  # a Failed pod whose trainer exited 0 counts as an error too
        return Failure(
            APPLICATION_ERROR,
            None,
            f"worker pod {name} exited with code {code} (application error); see `seerctl logs`",
        )
    return failure


def failure_time(pod: dict[str, Any]) -> datetime | None:
    """When the pod stopped (backoff counts from here). Falls back to the pod's
    creation time (never "now": a moving start would postpone the restart forever)."""
    disruption = _condition(pod, "DisruptionTarget")
    stamp = (
        (disruption or {}).get("lastTransitionTime")
        or (_terminated(pod) or {}).get("finishedAt")
        or pod.get("metadata", {}).get("creationTimestamp")
    )
    return parse_rfc3339(stamp) if stamp else None
