"""The one Kubernetes API edge: every call Seer makes, as plain JSON-shaped dicts.

Used by ``seerctl`` (``seer.platform.backends.kube``), the TorchX scheduler
(``seer.platform.kube.scheduler``) and the operator (``seer.operators.kubeapi`` adds
its own shaping on top). Sync ``kubernetes`` client 33.x (docs/architecture.md,
"Dependency pins"); kopf talks through its own aiohttp client.

Thin on purpose: one method per API call, ``_preload_content=False`` (no model
(de)serialisation, ~10x cheaper for lists), and the expected races turned into values:
404 on get/delete = ``None``/``False``, 409 on create = ``False`` ("already exists":
idempotent create). A 409 on a guarded status write is a resourceVersion conflict and
raises :class:`Conflict`, so the caller re-reads and retries.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from seer.platform.contract import CONTAINER_TRAINER, LABEL_JOB, LABEL_RESTART, LABEL_ROLE, LABEL_SLOT, ROLE_WORKER
from seer.platform.crd import PLURAL
from seer.platform.spec import API_GROUP, API_VERSION

#: Custom kinds the operator creates for a job, by kind: their plural (``create_child``).
CUSTOM_CHILDREN = {"Workload": "workloads", "PodGroup": "podgroups"}


class Conflict(Exception):
    """The object changed since it was read (HTTP 409 on a guarded write)."""


def _json(response: Any) -> Any:
    return json.loads(response.data)


def load_api_client(
    context: str | None = None, *, prefer_in_cluster: bool = False, pool_size: int | None = None
) -> kubernetes.client.ApiClient:
    """A configured API client.

    ``seerctl`` (default): the kubeconfig when there is one (``$KUBECONFIG``, read at
    call time, or ``~/.kube/config``; optional ``context``), else the in-cluster service
    account. The operator (``prefer_in_cluster``): its service account first, then the
    kubeconfig (tests, ``kopf run`` on a laptop). ``pool_size``: connections kept for
    many threads sharing the client.
    """
    config = kubernetes.client.Configuration()
    # NOTE: the kubernetes client reads $KUBECONFIG once, at import; pass it explicitly.
    path = os.environ.get("KUBECONFIG")
    if prefer_in_cluster:
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(config_file=path, context=context, client_configuration=config)
    elif path or context or os.path.exists(os.path.expanduser("~/.kube/config")):
        kubernetes.config.load_kube_config(config_file=path, context=context, client_configuration=config)
    else:
        kubernetes.config.load_incluster_config(client_configuration=config)
    if pool_size:
        config.connection_pool_maxsize = pool_size
    return kubernetes.client.ApiClient(config)


def kubeconfig_namespace(context: str | None = None) -> str:
    """The namespace of the kubeconfig context (``default`` when unset)."""
    try:
        contexts, current = kubernetes.config.list_kube_config_contexts(config_file=os.environ.get("KUBECONFIG"))
    except (kubernetes.config.ConfigException, FileNotFoundError, TypeError):
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), current) if context else current
    return ((chosen or {}).get("context") or {}).get("namespace") or "default"


class KubeClient:
    """SeerJobs, their pods and Services, Events and logs (see ``operators.rbac`` for the
    operator's share of these calls)."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.core = kubernetes.client.CoreV1Api(api_client)

    @classmethod
    def connect(cls, context: str | None = None) -> "KubeClient":
        return cls(load_api_client(context))

    # ------------------------------------------------------------------------ SeerJobs

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Create a SeerJob (raises on 409: a name that is taken is the caller's error)."""
        ns = doc["metadata"]["namespace"]
        return _json(
            self.custom.create_namespaced_custom_object(API_GROUP, API_VERSION, ns, PLURAL, doc, _preload_content=False)
        )

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _json(
                self.custom.get_namespaced_custom_object(
                    API_GROUP, API_VERSION, namespace, PLURAL, name, _preload_content=False
                )
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def list(self, namespace: str | None) -> list[dict[str, Any]]:
        if namespace is None:
            resp = self.custom.list_cluster_custom_object(API_GROUP, API_VERSION, PLURAL, _preload_content=False)
        else:
            resp = self.custom.list_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, PLURAL, _preload_content=False
            )
        return _json(resp)["items"]

    def delete(self, namespace: str, name: str) -> bool:
        try:
            self.custom.delete_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, PLURAL, name, _preload_content=False
            )
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Merge-patch a SeerJob's metadata/spec (e.g. ``seerctl cancel``: suspend + annotation);
        None when it does not exist."""
        try:
            return _json(
                self.custom.patch_namespaced_custom_object(
                    API_GROUP, API_VERSION, namespace, PLURAL, name, body, _preload_content=False
                )
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def patch_status(self, namespace: str, name: str, status: dict[str, Any], resource_version: str | None) -> None:
        """Write a SeerJob's status; with ``resource_version``, only over that version."""
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

    # ----------------------------------------------------------------- pods, services

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        return _json(self.core.list_namespaced_pod(namespace, label_selector=label_selector, _preload_content=False))[
            "items"
        ]

    def list_services(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        return _json(
            self.core.list_namespaced_service(namespace, label_selector=label_selector, _preload_content=False)
        )["items"]

    def create_child(self, manifest: dict[str, Any]) -> bool:
        """Create a Pod or Service; False when it already exists."""
        ns = manifest["metadata"]["namespace"]
        try:
            if manifest["kind"] == "Pod":
                self.core.create_namespaced_pod(ns, manifest, _preload_content=False)
            elif manifest["kind"] == "Service":
                self.core.create_namespaced_service(ns, manifest, _preload_content=False)
            elif manifest["kind"] in CUSTOM_CHILDREN:  # a Kueue Workload, a gang PodGroup
                group, version = manifest["apiVersion"].split("/")
                plural = CUSTOM_CHILDREN[manifest["kind"]]
                self.custom.create_namespaced_custom_object(
                    group, version, ns, plural, manifest, _preload_content=False
                )
            else:
                raise ValueError(f"Seer does not create {manifest['kind']} objects")
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def list_custom(
        self, group: str, version: str, plural: str, namespace: str, label_selector: str
    ) -> list[dict[str, Any]]:
        """Custom objects (Kueue Workloads, PodGroups) by label."""
        return _json(
            self.custom.list_namespaced_custom_object(
                group, version, namespace, plural, label_selector=label_selector, _preload_content=False
            )
        )["items"]

    def get_cluster_custom(self, group: str, version: str, plural: str, name: str) -> dict[str, Any] | None:
        """A cluster-scoped custom object (a Kueue ResourceFlavor); None when it is missing or
        this identity may not read it (a namespaced install: a Role cannot grant it)."""
        try:
            return _json(self.custom.get_cluster_custom_object(group, version, plural, name, _preload_content=False))
        except ApiException as e:
            if e.status in (403, 404):
                return None
            raise

    def patch_custom_status(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str,
        name: str,
        status: dict[str, Any],
        resource_version: str | None = None,
    ) -> bool:
        """Merge-patch a custom object's status subresource, with ``resource_version`` only over
        that version (409: :class:`Conflict`); False when it is gone."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            self.custom.patch_namespaced_custom_object_status(
                group, version, namespace, plural, name, body, _preload_content=False
            )
        except ApiException as e:
            if e.status == 404:
                return False
            if e.status == 409:
                raise Conflict(f"{plural} {namespace}/{name} changed since resourceVersion {resource_version}") from e
            raise
        return True

    def delete_child(self, namespace: str, api_version: str, kind: str, name: str) -> bool:
        """Delete a custom child (``CUSTOM_CHILDREN``: Workload, PodGroup); False when already gone."""
        group, version = api_version.split("/")
        try:
            self.custom.delete_namespaced_custom_object(
                group, version, namespace, CUSTOM_CHILDREN[kind], name, _preload_content=False
            )
        except ApiException as e:
            if e.status == 404:
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

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.core.create_namespaced_event(namespace, body, _preload_content=False)

    def worker_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """Worker pods of a job, by slot then restart (the newest of a slot last)."""
        items = self.list_pods(namespace, f"{LABEL_JOB}={name},{LABEL_ROLE}={ROLE_WORKER}")

        def key(p: dict[str, Any]) -> tuple[int, int]:
            labels = p["metadata"].get("labels") or {}
            return int(labels.get(LABEL_SLOT, 0)), int(labels.get(LABEL_RESTART, 0))

        return sorted(items, key=key)

    def log_lines(
        self,
        namespace: str,
        pod: str,
        follow: bool = False,
        tail: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
    ) -> Iterator[str]:
        kwargs: dict[str, Any] = {"container": CONTAINER_TRAINER, "follow": follow, "_preload_content": False}
        if tail is not None:
            kwargs["tail_lines"] = tail
        if since_seconds is not None:
            kwargs["since_seconds"] = since_seconds
        if timestamps:
            kwargs["timestamps"] = True
        response = self.core.read_namespaced_pod_log(pod, namespace, **kwargs)
        buffer = ""
        for chunk in response.stream(4096):
            buffer += chunk.decode(errors="replace")
            *lines, buffer = buffer.split("\n")
            yield from lines
        if buffer:
            yield buffer


def worker_slot(pod: dict[str, Any]) -> str:
    """The node slot label of a worker pod ("0" when missing)."""
    return (pod["metadata"].get("labels") or {}).get(LABEL_SLOT, "0")
