"""Why did a worker pod stop, and may the job go on? (pure)

Order of evidence, most specific first:
1. a ``DisruptionTarget`` condition (Kubernetes >= 1.26 sets it on preemption,
   API-initiated eviction, taint-manager/pod-GC deletion after node loss,
   kubelet node-pressure eviction) - retryable whatever the exit code;
2. the pod's ``status.reason`` (``Evicted``, ``Preempting``, ``NodeLost``, ``Shutdown``...);
3. the trainer container's termination: ``OOMKilled``; exit 75 (the trainer's
   "preempted, final checkpoint written"); exit >= 128 (killed by signal 128+n,
   e.g. 137 SIGKILL, 143 SIGTERM) - retryable; exit 1..127 - application error, fatal.
A failed pod with no container record (lost before it started) counts as node loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seer.operators.children import CONTAINER_TRAINER, RETRYABLE_EXIT_CODE
from seer.platform.kube.status import parse_rfc3339
from seer.platform.spec import RestartReason


@dataclass(frozen=True)
class FailureClass:
    """A stopped worker: whether to retry, the cause bucket of ``restart.retryOn``,
    a CamelCase reason (Events, conditions) and a sentence for people."""

    retryable: bool
    reason: str
    cause: RestartReason | None
    message: str


_DISRUPTIONS: dict[str, tuple[str, RestartReason]] = {
    "PreemptionByScheduler": ("Preempted", RestartReason.preemption),
    "PreemptionByKubeScheduler": ("Preempted", RestartReason.preemption),
    "EvictionByEvictionAPI": ("Evicted", RestartReason.eviction),
    "TerminationByKubelet": ("Evicted", RestartReason.eviction),
    "DeletionByTaintManager": ("NodeLost", RestartReason.node_loss),
    "DeletionByPodGC": ("NodeLost", RestartReason.node_loss),
}

_POD_REASONS: dict[str, tuple[str, RestartReason]] = {
    "Evicted": ("Evicted", RestartReason.eviction),
    "Preempting": ("Preempted", RestartReason.preemption),
    "Preempted": ("Preempted", RestartReason.preemption),
    "NodeLost": ("NodeLost", RestartReason.node_loss),
    "Shutdown": ("NodeLost", RestartReason.node_loss),
    "NodeShutdown": ("NodeLost", RestartReason.node_loss),
    "Terminated": ("NodeLost", RestartReason.node_loss),
    "UnexpectedAdmissionError": ("NodeLost", RestartReason.node_loss),
}


def _condition(pod: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") == type_), None)


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    for cs in pod.get("status", {}).get("containerStatuses") or []:
        if cs.get("name") == CONTAINER_TRAINER:
            return (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
    return None


def classify_pod_failure(pod: dict[str, Any]) -> FailureClass | None:
    """None while the pod runs (or succeeded); else what its stop means for the job."""
    name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status", {})
    phase = status.get("phase")
    if phase == "Succeeded":
        return None
    disruption = _condition(pod, "DisruptionTarget")
    if disruption and disruption.get("status") == "True":
        reason, cause = _DISRUPTIONS.get(disruption.get("reason", ""), ("Evicted", RestartReason.eviction))
        detail = disruption.get("message") or disruption.get("reason") or "disrupted"
        return FailureClass(True, reason, cause, f"worker pod {name} was disrupted: {detail}")
    if phase != "Failed":
        return None
    if status.get("reason") in _POD_REASONS:
        reason, cause = _POD_REASONS[status["reason"]]
        return FailureClass(
            True,
            reason,
            cause,
            f"worker pod {name} failed: {status['reason']}: {status.get('message', '')}".rstrip(": "),
        )
    term = _terminated(pod)
    if term is None:
        return FailureClass(
            True, "NodeLost", RestartReason.node_loss, f"worker pod {name} failed before its trainer ran"
        )
    code = int(term.get("exitCode", 0))
    if term.get("reason") == "OOMKilled":
        return FailureClass(
            True,
            "OOMKilled",
            RestartReason.oom_kill,
            f"worker pod {name} was OOM-killed (exit {code}): raise resources.memory or lower data.batchSize",
        )
    if code == RETRYABLE_EXIT_CODE:
        return FailureClass(
            True,
            "Preempted",
            RestartReason.preemption,
            f"worker pod {name} stopped after a final checkpoint (exit {code})",
        )
    if code >= 128:
        return FailureClass(
            True, "Signaled", RestartReason.signal, f"worker pod {name} was killed by signal {code - 128} (exit {code})"
        )
    return FailureClass(
        False,
        "ApplicationError",
        None,
        f"worker pod {name} exited with code {code} (application error); see `seerctl logs`",
    )


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
