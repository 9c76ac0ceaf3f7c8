"""The operator's Kubernetes API edge (sync ``kubernetes`` client, raw dicts).

Thin on purpose: every method is one API call, returns plain JSON-shaped dicts
(``_preload_content=False``: no model (de)serialisation, ~10x cheaper for lists),
and turns the two expected races into values: 409 on create = "already exists"
(idempotent create), 404 on delete = "already gone". A 409 on the status write is
a resourceVersion conflict and raises :class:`Conflict` so the reconciler retries
with a fresh read. kopf itself talks through its own aiohttp client.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from seer.operators.children import MANAGED_BY, selector
from seer.operators.planning import JobEvent, Observed
from seer.platform.crd import PLURAL
from seer.platform.kube.client import SeerJobClient
from seer.platform.kube.status import rfc3339
from seer.platform.spec import API_GROUP, API_VERSION, KIND


class Conflict(Exception):
    """The object changed since it was read (HTTP 409 on a guarded write)."""


def load_api_client() -> kubernetes.client.ApiClient:
    """In-cluster service account first, then ``$KUBECONFIG``/~/.kube/config."""
    config = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        # NOTE: the client reads $KUBECONFIG once, at import; read it at call time instead.
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=config)
    config.connection_pool_maxsize = 32  # many handler threads share one pool
    return kubernetes.client.ApiClient(config)


def _json(response: Any) -> dict[str, Any]:
    return json.loads(response.data)


class KubeApi:
    """One method per API call the operator makes (see ``rbac.REQUIRED_PERMISSIONS``)."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self._jobs = SeerJobClient(api_client)  # the same SeerJob calls seerctl makes
        self._instance = f"{MANAGED_BY}-{threading.get_native_id()}"

    def get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._jobs.get(namespace, name)

    def list_children(self, namespace: str, job: str) -> Observed:
        sel = selector(job)
        pods = _json(self.core.list_namespaced_pod(namespace, label_selector=sel, _preload_content=False))["items"]
        services = _json(self.core.list_namespaced_service(namespace, label_selector=sel, _preload_content=False))[
            "items"
        ]
        return Observed(pods=tuple(pods), services=tuple(services))

    def create(self, manifest: dict[str, Any]) -> bool:
        """Create a Pod or Service; False when it already exists."""
        ns = manifest["metadata"]["namespace"]
        try:
            if manifest["kind"] == "Pod":
                self.core.create_namespaced_pod(ns, manifest, _preload_content=False)
            elif manifest["kind"] == "Service":
                self.core.create_namespaced_service(ns, manifest, _preload_content=False)
            else:
                raise ValueError(f"the operator does not create {manifest['kind']}")
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None) -> bool:
        body = kubernetes.client.V1DeleteOptions(grace_period_seconds=grace_seconds, propagation_policy="Background")
        try:
            self.core.delete_namespaced_pod(name, namespace, body=body, _preload_content=False)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    def patch_status(self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None) -> None:
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}  # optimistic concurrency
        try:
            self.custom.patch_namespaced_custom_object_status(
                API_GROUP, API_VERSION, namespace, PLURAL, name, body, _preload_content=False
            )
        except ApiException as e:
            if e.status == 409:
                raise Conflict(f"SeerJob {namespace}/{name} changed since resourceVersion {resource_version}") from e
            raise

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
            "reportingComponent": f"seer.dev/{MANAGED_BY}",
            "reportingInstance": self._instance,
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "count": 1,
        }
        self.core.create_namespaced_event(meta["namespace"], body, _preload_content=False)
