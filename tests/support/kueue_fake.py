"""The test's stand-in for Kueue: what Kueue writes on a SeerJob's Workload status.

Both the API-emulator scenarios and the multi-node run play Kueue the same way: set the
Workload's conditions (``QuotaReserved``, ``Admitted``, ``Evicted`` ...) and, once quota is
reserved, its ``admission`` with the ``workers`` podSet's count (and, optionally, flavors).
"""

from __future__ import annotations

from typing import Any

GROUP, VERSION, PLURAL = "kueue.x-k8s.io", "v1beta1", "workloads"


def workload_status(
    conditions: dict[str, str], *, admitted: bool, count: int = 2, flavors: dict[str, str] | None = None
) -> dict[str, Any]:
    """The Workload ``status`` Kueue writes: conditions (type -> status), and the admission when
    quota is reserved (``cluster-queue``, the ``workers`` podSet, ``count`` pods)."""
    assignment: dict[str, Any] = {"name": "workers", "count": count}
    if flavors:
        assignment["flavors"] = dict(flavors)
    return {
        "conditions": [
            {
                "type": kind,
                "status": value,
                "reason": kind,
                "message": f"{kind} by the test",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
            for kind, value in conditions.items()
        ],
        "admission": {"clusterQueue": "cluster-queue", "podSetAssignments": [assignment]} if admitted else None,
    }


def kueue_sets(
    cluster: Any, namespace: str, name: str, conditions: dict[str, str], *, admitted: bool, **assignment: Any
) -> None:
    """Write ``workload_status(...)`` on the Workload ``name`` as Kueue would (status subresource)."""
    status = workload_status(conditions, admitted=admitted, **assignment)
    cluster.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, {"status": status})
