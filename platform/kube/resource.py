"""A job as the SeerJob custom resource, and its creation: the one Kubernetes submit path.

``seerctl submit -s kubernetes`` (``seer.platform.backends.kube``) and Seer's TorchX
scheduler ``seer`` (``torchx run -s seer seer.train --job_file ...``) both end here:
the validated job document, in the chosen namespace, created through the client. The
operator then builds the pods from the same spec (``seer.platform.worker``); nothing
travels through an AppDef or an environment variable on the way.
"""

from __future__ import annotations

from typing import Any

from seer.platform.kube.client import KubeClient
from seer.platform.spec import SeerJob


def custom_resource(job: SeerJob, namespace: str | None = None) -> dict[str, Any]:
    """The SeerJob resource for ``job`` (what ``seerctl submit --dry-run -o yaml`` prints)."""
    doc = job.to_document()
    if namespace:
        doc["metadata"]["namespace"] = namespace
    return doc


def create_seerjob(client: KubeClient, job: SeerJob, namespace: str) -> tuple[str, str]:
    """Create ``job`` as a SeerJob in ``namespace``; returns (namespace, name) as created."""
    created = client.create(custom_resource(job, namespace))
    return created["metadata"]["namespace"], created["metadata"]["name"]
