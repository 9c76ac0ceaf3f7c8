"""Where ``seerctl`` runs jobs: this machine or a Kubernetes cluster.

- ``api``: the `Backend` protocol, `JobStatus` and the errors every backend raises;
- ``local``: `LocalBackend`, processes on this machine under a detached supervisor;
- ``kube``: `KubernetesBackend`, SeerJob resources through the API server (imported
  only when asked for: the kubernetes client is slow to import).
"""

from __future__ import annotations

from seer.platform.backends.api import Backend, JobExists, JobNotFound, JobStatus, SchedulerUnavailable, SubmitRefused
from seer.platform.backends.local import LocalBackend


def get_backend(scheduler: str, *, context: str | None = None, namespace: str | None = None) -> Backend:
    if scheduler == "local":
        return LocalBackend()
    if scheduler == "kubernetes":
        from seer.platform.backends.kube import KubernetesBackend

        return KubernetesBackend(context=context, namespace=namespace)
    raise ValueError(f"unknown scheduler {scheduler!r}: use local or kubernetes")


__all__ = [
    "Backend",
    "JobExists",
    "JobNotFound",
    "JobStatus",
    "LocalBackend",
    "SchedulerUnavailable",
    "SubmitRefused",
    "get_backend",
]
