"""Every manifest the operator produces is valid for supported Kubernetes versions
and carries the contract the trainer and the chart rely on."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from seer.operators.children import rendezvous_pod, rendezvous_service, worker_pod
from seer.operators.kubeapi import KubeApi  # noqa: F401  (import check: the edge loads)
from seer.platform.spec import SeerJob

JOB = SeerJob.model_validate(
    {
        "metadata": {"name": "big", "namespace": "research", "labels": {"team": "vision"}},
        "spec": {
            "resources": {
                "nodes": {"min": 2, "max": 8},
                "procsPerNode": 8,
                "gpusPerNode": 8,
                "cpu": "96",
                "memory": "1000Gi",
                "nodeSelector": {"pool": "h100"},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "priorityClassName": "training",
            },
            "storage": {"secretName": "s3-creds", "endpointUrl": "http://minio:9000", "region": "us-east-1"},
            "checkpoint": {"url": "s3://ckpt/big", "preemptionBudgetSeconds": 60},
        },
    }
)
UID = "0d9b5a1e-1111-2222-3333-444455556666"


def _manifests():
    return [worker_pod(JOB, UID, 3, 2), rendezvous_pod(JOB, UID), rendezvous_service(JOB, UID)]


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_all_manifests_pass_kubernetes_validate(version):
    for manifest in _manifests():
        kubernetes_validate.validate(manifest, version, strict=True)


def test_worker_pod_runs_torchrun_against_the_rendezvous_service():
    pod = worker_pod(JOB, UID, 3, 2)
    container = pod["spec"]["containers"][0]
    cmd = container["command"]
    assert cmd[:2] == ["torchrun", "--nnodes"] and cmd[2] == "2:8"
    assert cmd[cmd.index("--rdzv-endpoint") + 1] == "big-rdzv:29400"
    assert cmd[cmd.index("--rdzv-id") + 1] == UID and cmd[-2:] == ["-m", "seer.trainer"]
    assert pod["metadata"]["name"] == "big-worker-3-2"
    labels = pod["metadata"]["labels"]
    assert labels["seer.dev/job-name"] == "big" and labels["seer.dev/role"] == "worker"
    assert labels["app.kubernetes.io/managed-by"] == "seer-operator" and labels["team"] == "vision"
    assert [p["name"] for p in container["ports"]] == ["metrics"] + [f"metrics-{r}" for r in range(1, 8)]
    assert container["ports"][7]["containerPort"] == 9450 + 7
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 75
    assert pod["spec"]["nodeSelector"] == {"pool": "h100"} and pod["spec"]["priorityClassName"] == "training"
    assert pod["metadata"]["ownerReferences"][0] == {
        "apiVersion": "seer.dev/v1alpha1",
        "kind": "SeerJob",
        "name": "big",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_worker_environment_carries_spec_restart_count_and_secret_references():
    env = {e["name"]: e for e in worker_pod(JOB, UID, 0, 2)["spec"]["containers"][0]["env"]}
    assert SeerJob.model_validate(json.loads(env["SEER_JOB_SPEC"]["value"])) == JOB
    assert env["SEER_RESTART_COUNT"]["value"] == "2"
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000" and env["AWS_REGION"]["value"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID"}
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["OMP_NUM_THREADS"]["value"] == "12"  # 96 cores / 8 processes
    assert not any("value" in e and "SECRET" in e["name"] for e in env.values())


def test_rendezvous_service_is_headless_and_selects_the_rendezvous_pod():
    service, pod = rendezvous_service(JOB, UID), rendezvous_pod(JOB, UID)
    assert service["spec"]["clusterIP"] == "None"
    assert all(pod["metadata"]["labels"][k] == v for k, v in service["spec"]["selector"].items())
    assert "nodeSelector" not in pod["spec"]  # no GPU needed: must not wait for a GPU node


@pytest.mark.parametrize("make", [lambda: worker_pod(JOB, UID, 0, 0), lambda: rendezvous_pod(JOB, UID)])
def test_pods_get_no_api_token_and_a_read_only_root_with_writable_scratch(make):
    """Workers and the store never call the API; all they write goes to emptyDirs."""
    pod = make()
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert spec["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    assert "/tmp" in mounts and mounts["/tmp"] in empty_dirs
    env = {e["name"]: e.get("value") for e in container.get("env") or []}
    # Everything torch, inductor, triton and Python write outside the checkpoint store lands under /tmp.
    for key in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        assert env[key].startswith("/tmp"), key


def test_worker_keeps_its_shared_memory_volume():
    container = worker_pod(JOB, UID, 0, 0)["spec"]["containers"][0]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
