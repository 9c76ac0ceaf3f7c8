"""The operator's view of the API: the reconciler's six calls, on the shared client.

Every raw call goes through ``seer.platform.kube.client.KubeClient`` (the one
Kubernetes edge, also behind ``seerctl``); this module only shapes what the
reconciler needs: a job's children as :class:`~seer.operators.planning.Observed`,
and decisions as Kubernetes Events. Expected races are values (409 on create =
already exists, 404 on delete = already gone); a 409 on the status write raises
:class:`Conflict` so the reconciler retries with a fresh read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from seer.operators.children import selector
from seer.operators.planning import JobEvent, Observed
from seer.operators.queueing import KUEUE_GROUP, KUEUE_VERSION, RESOURCE_FLAVORS, WORKLOADS
from seer.platform.contract import ANNOTATION_PREFIX, MANAGED_BY
from seer.platform.kube.client import Conflict, KubeClient, load_api_client
from seer.platform.kube.status import rfc3339
from seer.platform.spec import API_GROUP, API_VERSION, KIND

#: Connections kept for kopf's handler threads, which share one client.
POOL_SIZE = 32

__all__ = ["Conflict", "KubeApi", "connect"]


def connect() -> "KubeApi":
    """The operator's API: its service account in a cluster, else ``$KUBECONFIG``."""
    return KubeApi(KubeClient(load_api_client(prefer_in_cluster=True, pool_size=POOL_SIZE)))


class KubeApi:
    """One method per API call the operator makes (see ``rbac.REQUIRED_PERMISSIONS``)."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._instance = f"{MANAGED_BY}-{threading.get_native_id()}"

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.client.get(namespace, name)

    def list_children(
        self, namespace: str, job: str, custom: dict[str, tuple[str, str, str]] | None = None
    ) -> Observed:
        """Pods and Services, plus ``custom``: ``Observed`` field -> (group, version, plural)
        (``planning.observed_kinds``: a Kueue Workload, a PodGroup, only for jobs that use them)."""
        sel = selector(job)
        extra = {
            field: tuple(self.client.list_custom(group, version, plural, namespace, sel))
            for field, (group, version, plural) in (custom or {}).items()
        }
        return Observed(
            pods=tuple(self.client.list_pods(namespace, sel)),
            services=tuple(self.client.list_services(namespace, sel)),
            **extra,
        )

    def create(self, manifest: dict[str, Any]) -> bool:
        """Create a Pod, Service, Workload or PodGroup; False when it already exists."""
        return self.client.create_child(manifest)

    def delete_custom(self, namespace: str, api_version: str, kind: str, name: str) -> bool:
        """Delete a Workload or PodGroup the operator made; False when already gone."""
        return self.client.delete_child(namespace, api_version, kind, name)

    def get_resource_flavor(self, name: str) -> dict[str, Any] | None:
        return self.client.get_cluster_custom(KUEUE_GROUP, KUEUE_VERSION, RESOURCE_FLAVORS, name)

    def patch_workload_status(
        self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None
    ) -> bool:
        """Write a Kueue Workload's status (PodsReady, Finished, or the quota given back after an
        eviction) over ``resource_version`` only: a 409 raises ``Conflict`` and the reconcile
        re-runs, so a condition Kueue wrote meanwhile (an eviction) is never overwritten."""
        return self.client.patch_custom_status(
            KUEUE_GROUP, KUEUE_VERSION, WORKLOADS, namespace, name, status, resource_version
        )

    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None) -> bool:
        return self.client.delete_pod(namespace, name, grace_seconds)

    def patch_status(self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None) -> None:
        self.client.patch_status(namespace, name, status, resource_version)

    def post_event(self, job: dict[str, Any], event: JobEvent) -> None:
        meta = job["metadata"]
        now = datetime.now(timezone.utc)
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message[:1024],
            "source": {"component": MANAGED_BY},
            "reportingComponent": f"{ANNOTATION_PREFIX}/{MANAGED_BY}",
            "reportingInstance": self._instance,
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "count": 1,
        }
        self.client.create_event(meta["namespace"], body)
