"""The chart's ``workerDefaults`` reach the worker pods: render the chart with real Helm,
run the operator's pod builder with the operator Deployment's environment, check the pods."""

from __future__ import annotations

from typing import Any

import pytest
from seer_chart_support import one

from seer.operators.children import rendezvous_pod, worker_pod
from seer.platform.spec import SeerJob

JOB = SeerJob.model_validate({"metadata": {"name": "demo", "namespace": "default"}, "spec": {}})


def _operator_env(objs: list[dict[str, Any]]) -> dict[str, str]:
    """The operator container's plain environment (downward-API entries have no value here)."""
    deployment = one(objs, "Deployment")
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "operator")
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("SEER_WORKER_IMAGE", "SEER_WORKER_IMAGE_PULL_POLICY", "SEER_WORKER_SERVICE_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_worker_pods_get_the_charts_service_account_and_pull_policy(render, monkeypatch):
    values = {
        "workerDefaults": {
            "image": "registry.example/seer:1.2.3",
            "imagePullPolicy": "Always",
            "serviceAccountName": "seer-bucket-reader",
        }
    }
    _apply(monkeypatch, _operator_env(render(values)))
    pod = worker_pod(JOB, "uid-1", slot=0, restart=0)
    trainer = pod["spec"]["containers"][0]
    assert pod["spec"]["serviceAccountName"] == "seer-bucket-reader"
    assert trainer["imagePullPolicy"] == "Always"
    assert trainer["image"] == "registry.example/seer:1.2.3"
    # Workload identity (IRSA, GKE/Azure workload identity) works without the API token: see docs/operator.md.
    assert pod["spec"]["automountServiceAccountToken"] is False
    rdzv = rendezvous_pod(JOB, "uid-1")
    assert rdzv["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert "serviceAccountName" not in rdzv["spec"], "the rendezvous store needs no cloud identity"


def test_chart_defaults_leave_the_namespace_default_service_account(render, monkeypatch):
    _apply(monkeypatch, _operator_env(render({})))
    pod = worker_pod(JOB, "uid-1", slot=0, restart=0)
    assert "serviceAccountName" not in pod["spec"]
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_an_invalid_pull_policy_in_the_environment_names_the_variable_and_the_value(monkeypatch):
    _apply(monkeypatch, {"SEER_WORKER_IMAGE_PULL_POLICY": "Sometimes"})
    with pytest.raises(ValueError, match="SEER_WORKER_IMAGE_PULL_POLICY.*workerDefaults.imagePullPolicy"):
        worker_pod(JOB, "uid-1", slot=0, restart=0)
