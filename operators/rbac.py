"""Every Kubernetes API call the operator makes, as data.

The chart's RBAC (another package) is tested against this list, so a new API call
here without a matching rule fails a test instead of a production cluster.
Format: ``(api_group, resource, verbs)``; ``""`` is the core group.

Why each entry:
- seerjobs: kopf lists/watches them; kopf patches annotations/finalizers (progress
  storage, timer finalizer); the reconciler reads one job (get).
- seerjobs/status: the reconciler writes the status subresource.
- pods: the reconciler lists by label, creates workers and the rendezvous pod,
  deletes replaced/suspended workers; kopf watches them to wake the reconciler.
- services: the rendezvous headless Service (create, list to observe).
- events: kopf and the reconciler post an Event for every decision.
- customresourcedefinitions: kopf's start-up resource discovery lists them; watching
  is disabled (``settings.scanning.disabled``) and peering is off (standalone), so
  no namespaces or kopf peering resources are needed.
- leases (:data:`LEADER_ELECTION_PERMISSIONS`, separate): the leader election Lease
  (``seer.operators.leader``), in the operator's own namespace only: the chart grants it
  with a Role there, never cluster-wide.
The operator does not read pod logs or Secrets (workers reference the Secret by
``secretKeyRef``; the kubelet resolves it).
"""

from __future__ import annotations

from seer.platform.crd import PLURAL
from seer.platform.spec import API_GROUP

Permission = tuple[str, str, tuple[str, ...]]

#: ``spec.scheduling`` (``seer.operators.queueing``, ``seer.operators.gang``): the Kueue Workload the
#: operator creates, lists and whose status it writes (Finished; the quota given back after an
#: eviction), and the gang PodGroups it creates and lists; both are deleted and made again when
#: the job changed while suspended (``planning._stale``). Harmless where Kueue or a gang scheduler
#: is not installed: only jobs that ask for them make these calls.
SCHEDULING_PERMISSIONS: list[Permission] = [
    ("kueue.x-k8s.io", "workloads", ("get", "list", "watch", "create", "update", "patch", "delete")),
    ("kueue.x-k8s.io", "workloads/status", ("get", "patch", "update")),
    ("scheduling.volcano.sh", "podgroups", ("get", "list", "watch", "create", "delete")),
    ("scheduling.x-k8s.io", "podgroups", ("get", "list", "watch", "create", "delete")),
    ("kueue.x-k8s.io", "resourceflavors", ("get",)),  # cluster-scoped: the admitted flavors' node labels
]

REQUIRED_PERMISSIONS: list[Permission] = [
    (API_GROUP, PLURAL, ("get", "list", "watch", "patch")),
    (API_GROUP, f"{PLURAL}/status", ("get", "patch", "update")),
    ("", "pods", ("get", "list", "watch", "create", "delete")),
    ("", "services", ("get", "list", "watch", "create", "delete")),
    ("", "events", ("create",)),
    ("events.k8s.io", "events", ("create",)),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    *SCHEDULING_PERMISSIONS,
]

#: The leader election Lease (``seer.operators.leader``): read it, create it once, take or renew it
#: (compare-and-swap ``update``). Granted by a Role in the operator's namespace, not with the rest.
LEADER_ELECTION_PERMISSIONS: list[Permission] = [
    ("coordination.k8s.io", "leases", ("get", "create", "update")),
]
