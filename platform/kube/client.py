"""The Kubernetes API edge of ``seerctl`` and the TorchX scheduler: SeerJobs and
their worker pods, as plain dicts (sync ``kubernetes`` client, 33.x).

One method per API call; 404 becomes ``None``/``False``. Connection: the kubeconfig
(``$KUBECONFIG`` read at call time, optional context) or the in-cluster account.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from seer.platform.crd import PLURAL
from seer.platform.spec import API_GROUP, API_VERSION

LABEL_JOB = "seer.dev/job-name"
LABEL_ROLE = "seer.dev/role"
LABEL_SLOT = "seer.dev/worker-slot"
LABEL_RESTART = "seer.dev/restart"


def _json(response: Any) -> Any:
    return json.loads(response.data)


def load_api_client(context: str | None = None) -> kubernetes.client.ApiClient:
    config = kubernetes.client.Configuration()
    path = os.environ.get("KUBECONFIG")
    if path or context or os.path.exists(os.path.expanduser("~/.kube/config")):
        kubernetes.config.load_kube_config(config_file=path, context=context, client_configuration=config)
    else:
        kubernetes.config.load_incluster_config(client_configuration=config)
    return kubernetes.client.ApiClient(config)


def kubeconfig_namespace(context: str | None = None) -> str:
    """The namespace of the kubeconfig context (``default`` when unset)."""
    try:
        contexts, current = kubernetes.config.list_kube_config_contexts(config_file=os.environ.get("KUBECONFIG"))
    except (kubernetes.config.ConfigException, FileNotFoundError, TypeError):
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), current) if context else current
    return ((chosen or {}).get("context") or {}).get("namespace") or "default"


class SeerJobClient:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.core = kubernetes.client.CoreV1Api(api_client)

    @classmethod
    def connect(cls, context: str | None = None) -> "SeerJobClient":
        return cls(load_api_client(context))

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
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

    def worker_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """Worker pods of a job, by slot then restart (the newest of a slot last)."""
        items = _json(
            self.core.list_namespaced_pod(
                namespace, label_selector=f"{LABEL_JOB}={name},{LABEL_ROLE}=worker", _preload_content=False
            )
        )["items"]

        def key(p: dict[str, Any]) -> tuple[int, int]:
            labels = p["metadata"].get("labels") or {}
            return int(labels.get(LABEL_SLOT, 0)), int(labels.get(LABEL_RESTART, 0))

        return sorted(items, key=key)

    def log_lines(self, namespace: str, pod: str, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        kwargs: dict[str, Any] = {"container": "trainer", "follow": follow, "_preload_content": False}
        if tail is not None:
            kwargs["tail_lines"] = tail
        response = self.core.read_namespaced_pod_log(pod, namespace, **kwargs)
        buffer = ""
        for chunk in response.stream(4096):
            buffer += chunk.decode(errors="replace")
            *lines, buffer = buffer.split("\n")
            yield from lines
        if buffer:
            yield buffer
