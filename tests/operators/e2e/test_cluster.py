"""The operator scenarios against a real cluster: opt-in with ``KUBECONFIG``.

Prerequisites: the CRD and the operator installed (``helm install seer charts/seer``)
in the cluster ``KUBECONFIG`` points at; the tests create jobs in ``SEER_E2E_NAMESPACE``
(default ``seer-e2e``) with a tiny CPU spec and real kubelets run the pods.
"""

from __future__ import annotations

import os

import pytest
from polling import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("KUBECONFIG"),
        reason="e2e: set KUBECONFIG to a cluster with the Seer CRD and operator installed",
    ),
]

NS = os.environ.get("SEER_E2E_NAMESPACE", "seer-e2e")


@pytest.fixture
def client():
    from seer.platform.kube.client import KubeClient

    return KubeClient.connect()


def _wait(predicate, timeout=600.0):
    return wait_until(predicate, timeout, "the cluster", poll=2)


def _submit(client, name, **spec):
    from seer.platform.spec import SeerJob

    spec.setdefault("resources", {"nodes": {"min": 1, "max": 2}, "cpu": "1", "memory": "2Gi", "device": "cpu"})
    spec.setdefault("model", {"variant": "regnety_200mf"})
    spec.setdefault("optim", {"epochs": 1, "warmupEpochs": 0, "maxSteps": 50})
    doc = SeerJob.model_validate({"metadata": {"name": name, "namespace": NS}, "spec": spec}).to_document()
    client.create(doc)
    return doc


def test_created_job_runs(client):
    _submit(client, "e2e-create")
    _wait(lambda: (client.get(NS, "e2e-create") or {}).get("status", {}).get("phase") in ("Running", "Succeeded"))
    client.delete(NS, "e2e-create")


def test_deleted_job_removes_pods(client):
    _submit(client, "e2e-delete")
    _wait(lambda: client.worker_pods(NS, "e2e-delete"))
    client.delete(NS, "e2e-delete")
    _wait(lambda: not client.worker_pods(NS, "e2e-delete"))


def test_evicted_worker_is_replaced(client):
    import kubernetes

    _submit(client, "e2e-evict", restart={"backoffSeconds": 1, "maxBackoffSeconds": 1})
    _wait(lambda: (client.get(NS, "e2e-evict") or {}).get("status", {}).get("phase") == "Running")
    victim = client.worker_pods(NS, "e2e-evict")[0]["metadata"]["name"]
    client.core.create_namespaced_pod_eviction(
        victim, NS, kubernetes.client.V1Eviction(metadata={"name": victim, "namespace": NS})
    )
    _wait(lambda: (client.get(NS, "e2e-evict") or {}).get("status", {}).get("restarts", 0) >= 1)
    client.delete(NS, "e2e-evict")


def test_suspend_and_resume(client):
    _submit(client, "e2e-suspend")
    _wait(lambda: (client.get(NS, "e2e-suspend") or {}).get("status", {}).get("phase") == "Running")
    client.custom.patch_namespaced_custom_object(
        "seer.dev", "v1alpha1", NS, "seerjobs", "e2e-suspend", {"spec": {"suspend": True}}
    )
    _wait(
        lambda: (
            (client.get(NS, "e2e-suspend") or {}).get("status", {}).get("phase") == "Suspended"
            and not client.worker_pods(NS, "e2e-suspend")
        )
    )
    client.custom.patch_namespaced_custom_object(
        "seer.dev", "v1alpha1", NS, "seerjobs", "e2e-suspend", {"spec": {"suspend": False}}
    )
    _wait(lambda: client.worker_pods(NS, "e2e-suspend"))
    client.delete(NS, "e2e-suspend")


def test_admission_refuses_an_edit_of_a_running_job_and_allows_it_while_suspended(client):
    """The CRD's transition rule (``immutable_while_running``) on a real API server."""
    from kubernetes.client.exceptions import ApiException

    from seer.platform.spec import IMMUTABLE_MESSAGE

    _submit(client, "e2e-edit")
    edit = {"spec": {"resources": {"nodes": {"min": 1, "max": 3}}}}
    with pytest.raises(ApiException) as refused:
        client.custom.patch_namespaced_custom_object("seer.dev", "v1alpha1", NS, "seerjobs", "e2e-edit", edit)
    assert refused.value.status == 422 and IMMUTABLE_MESSAGE.split(":")[0] in str(refused.value.body)
    client.custom.patch_namespaced_custom_object(
        "seer.dev", "v1alpha1", NS, "seerjobs", "e2e-edit", {"spec": {"suspend": True}}
    )
    client.custom.patch_namespaced_custom_object("seer.dev", "v1alpha1", NS, "seerjobs", "e2e-edit", edit)
    client.delete(NS, "e2e-edit")
