"""The test side of the Kubernetes API emulator: SeerJobs, their pods and services in one namespace.

The operator tests (which play the kubelet) and the multinode tests (whose nodes run real
workers) read and write the same objects the same way; each extends :class:`EmulatedCluster`
with its own part.
"""

from __future__ import annotations

from typing import Any

import kubernetes

from seer.platform.spec import SeerJob

#: The namespace every emulated test job lives in.
NS = "default"


class EmulatedCluster:
    """Submit SeerJobs through the API; read them, their pods and services from the emulator's store."""

    def __init__(self, emulator: Any, api: kubernetes.client.ApiClient) -> None:
        self.emulator = emulator  # a kube_emulator.RunningEmulator
        self.core = kubernetes.client.CoreV1Api(api)
        self.custom = kubernetes.client.CustomObjectsApi(api)

    def create_job(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create SeerJob ``name`` (validated and defaulted as seerctl would) and return what the API stored."""
        doc = SeerJob.model_validate({"metadata": {"name": name, "namespace": NS}, "spec": spec}).to_document()
        return self.custom.create_namespaced_custom_object("seer.dev", "v1alpha1", NS, "seerjobs", doc)

    def job(self, name: str) -> dict[str, Any] | None:
        return next(
            (j for j in self.emulator.objects("seer.dev", "seerjobs", NS) if j["metadata"]["name"] == name), None
        )

    def status(self, name: str) -> dict[str, Any]:
        return (self.job(name) or {}).get("status") or {}

    def pods(self, job: str, role: str = "worker") -> list[dict[str, Any]]:
        """The job's pods of ``role``, by name."""
        return sorted(
            (
                p
                for p in self.emulator.objects("", "pods", NS)
                if p["metadata"]["labels"].get("seer.dev/job-name") == job
                and p["metadata"]["labels"].get("seer.dev/role") == role
            ),
            key=lambda p: p["metadata"]["name"],
        )

    def services(self, job: str) -> list[dict[str, Any]]:
        return [
            s
            for s in self.emulator.objects("", "services", NS)
            if s["metadata"]["labels"].get("seer.dev/job-name") == job
        ]
