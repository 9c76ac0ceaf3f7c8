"""Why a pod that should start does not (pure): no node fits, a missing Secret, an image
that cannot be pulled.

Kubernetes keeps such a pod ``Pending`` forever and says why only on the pod: a
``PodScheduled=False/Unschedulable`` condition (the scheduler's message, e.g. "0/4 nodes
are available: 4 Insufficient nvidia.com/gpu"), or a waiting container
(``CreateContainerConfigError`` with 'secret "x" not found', ``ImagePullBackOff``...).
The operator lifts it to the job (``WorkersBlocked`` condition, an Event) and fails the
job after ``restart.pendingTimeoutSeconds`` (``seer.operators.planning``).

``since`` is taken from the pod (the condition's transition time, else its creation),
never from the clock, so every reconcile computes the same deadline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seer.platform.kube.status import parse_rfc3339

#: Container waiting reasons that do not go away by waiting (or only by a fix elsewhere).
_STUCK_WAITING = {
    "CreateContainerConfigError",
    "CreateContainerError",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
}
_MISSING_SECRET = re.compile(r'secrets? "([^"]+)" not found')
_MISSING_KEY = re.compile(r"couldn't find key (\S+) in Secret ([^/\s]+)/(\S+)")


@dataclass(frozen=True)
class Blocked:
    """A pod that cannot start: a CamelCase reason, a sentence naming the pod and the fix."""

    pod: str
    reason: str
    message: str
    since: datetime | None


def _since(pod: dict[str, Any], condition: dict[str, Any] | None) -> datetime | None:
    stamp = (condition or {}).get("lastTransitionTime") or (pod.get("metadata") or {}).get("creationTimestamp")
    return parse_rfc3339(stamp) if stamp else None


def blocked_pod(pod: dict[str, Any]) -> Blocked | None:
    """None unless ``pod`` is Pending for a reason that waiting will not fix."""
    meta = pod.get("metadata") or {}
    name, namespace = meta.get("name", "?"), meta.get("namespace", "default")
    status = pod.get("status") or {}
    if status.get("phase", "Pending") != "Pending" or meta.get("deletionTimestamp"):
        return None
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason, detail = waiting.get("reason", ""), waiting.get("message", "")
        if reason not in _STUCK_WAITING:
            continue
        if (missing := _MISSING_SECRET.search(detail)) is not None:
            secret = missing.group(1)
            return Blocked(
                name,
                "SecretNotFound",
                f"worker pod {name} cannot start: Secret {secret} (spec.storage.secretName) does not exist in "
                f"namespace {namespace}; create it with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                _since(pod, None),
            )
        if (key := _MISSING_KEY.search(detail)) is not None:
            return Blocked(
                name,
                "SecretKeyNotFound",
                f"worker pod {name} cannot start: Secret {key.group(3)} (spec.storage.secretName) in namespace "
                f"{key.group(2)} has no key {key.group(1)}; add it",
                _since(pod, None),
            )
        return Blocked(name, reason, f"pod {name} cannot start: {reason}: {detail}".rstrip(": "), _since(pod, None))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            if condition.get("reason") == "Unschedulable":
                return Blocked(
                    name,
                    "Unschedulable",
                    f"pod {name} cannot be scheduled: {condition.get('message') or 'no node fits'} "
                    "(check resources, resources.nodeSelector, resources.tolerations)",
                    _since(pod, condition),
                )
    return None
