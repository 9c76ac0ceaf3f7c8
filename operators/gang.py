"""Gang scheduling (``spec.scheduling.gang``): what a worker pod carries and its PodGroup (pure).

A 64-node job must start on all of its ``nodes.min`` nodes at once or not at all; a
default scheduler binds pods one by one, so a half-placed job holds 40 nodes while it
waits for 24 more. Volcano and scheduler-plugins' coscheduling plugin place a
``PodGroup`` of at least ``minMember`` pods together. Per job the operator creates one
PodGroup (``<job>-workers``, owned by the SeerJob, ``minMember = nodes.min``) and gives
every worker the gang scheduler's name and the group's label/annotation.

Only workers belong to the group: the small rendezvous pod keeps the default scheduler
(it needs no GPU, and counting it would let ``nodes.min - 1`` workers satisfy the gang).
Imports nothing from ``children`` (which calls :func:`gang_pod_fields`), so no cycle.
"""

from __future__ import annotations

from typing import Any

from seer.platform.spec import GangScheduler, SeerJob

#: ``spec.schedulerName`` of workers when ``scheduling.schedulerName`` is unset.
DEFAULT_SCHEDULER = {
    GangScheduler.volcano.value: "volcano",
    # The name scheduler-plugins' Helm chart gives its second scheduler (as-a-second-scheduler install).
    GangScheduler.coscheduling.value: "scheduler-plugins-scheduler",
}

#: (apiVersion, kind) of the PodGroup each gang scheduler reads.
POD_GROUP_API = {
    GangScheduler.volcano.value: ("scheduling.volcano.sh/v1beta1", "PodGroup"),
    GangScheduler.coscheduling.value: ("scheduling.x-k8s.io/v1alpha1", "PodGroup"),
}

#: Volcano finds a pod's group by this annotation; coscheduling by the label.
VOLCANO_GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
COSCHEDULING_GROUP_LABEL = "scheduling.x-k8s.io/pod-group"


def pod_group_name(job: str) -> str:
    return f"{job}-workers"


def uses_gang(job: SeerJob) -> bool:
    return job.spec.scheduling.gang != GangScheduler.none.value


def scheduler_name(job: SeerJob) -> str | None:
    """The workers' ``schedulerName`` (None: no gang, the cluster's default scheduler)."""
    if not uses_gang(job):
        return None
    return job.spec.scheduling.scheduler_name or DEFAULT_SCHEDULER[job.spec.scheduling.gang]


def gang_pod_fields(job: SeerJob, metadata: dict[str, Any], spec: dict[str, Any]) -> None:
    """Put a worker pod into the job's gang (in place): scheduler name and group membership."""
    name = scheduler_name(job)
    if name is None:
        return
    spec["schedulerName"] = name
    group = pod_group_name(job.name)
    if job.spec.scheduling.gang == GangScheduler.volcano.value:
        metadata.setdefault("annotations", {})[VOLCANO_GROUP_ANNOTATION] = group
    else:
        metadata.setdefault("labels", {})[COSCHEDULING_GROUP_LABEL] = group


def min_resources(requests: dict[str, Any], count: int) -> dict[str, str]:
    """``count`` pods' requests summed, as quantities the scheduler compares with free capacity.

    Only plain numbers are multiplied; a quantity with a suffix (``"16Gi"``, ``"500m"``) keeps
    its suffix: ``"16Gi" x 4 = "64Gi"``."""
    out = {}
    for key, value in requests.items():
        text = str(value)
        digits = len(text) - len(text.lstrip("0123456789."))
        number, suffix = text[:digits], text[digits:]
        try:
            total = float(number) * count
        except ValueError:
            continue
        out[key] = f"{int(total) if total.is_integer() else total}{suffix}"
    return out


def pod_group(job: SeerJob, owner: dict[str, Any], labels: dict[str, str], requests: dict[str, Any]) -> dict[str, Any]:
    """The job's PodGroup: ``minMember = nodes.min`` workers with ``minResources`` for them."""
    api_version, kind = POD_GROUP_API[job.spec.scheduling.gang]
    nodes_min = job.spec.resources.nodes.min
    spec: dict[str, Any] = {"minMember": nodes_min, "minResources": min_resources(requests, nodes_min)}
    priority = job.spec.resources.priority_class_name
    if priority and job.spec.scheduling.gang == GangScheduler.volcano.value:
        spec["priorityClassName"] = priority
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": pod_group_name(job.name),
            "namespace": job.metadata.namespace,
            "labels": dict(labels),
            "ownerReferences": [owner],
        },
        "spec": spec,
    }
