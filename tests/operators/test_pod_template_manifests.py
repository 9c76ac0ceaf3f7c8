"""A SeerJob's spec.template reaches its worker pods (merged, valid for Kubernetes) without
breaking what the operator owns."""

from __future__ import annotations

import kubernetes_validate
import pytest

from seer.operators.children import rendezvous_pod, worker_pod
from seer.platform.contract import RESERVED_VOLUMES
from seer.platform.spec import SeerJob
from seer.platform.worker import spec_json

UID = "0d9b5a1e-1111-2222-3333-444455556666"
TEMPLATE = {
    "metadata": {"labels": {"kueue.x-k8s.io/queue-name": "research"}, "annotations": {"team": "vision"}},
    "spec": {
        "schedulerName": "volcano",
        "serviceAccountName": "bucket-reader",
        "imagePullSecrets": [{"name": "ngc"}],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"seer.dev/job-name": "ngc"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        },
        "securityContext": {"runAsUser": 0},
        "initContainers": [{"name": "fetch", "image": "busybox:1.36", "command": ["true"]}],
        "containers": [
            {
                "name": "trainer",
                "env": [{"name": "NCCL_IB_HCA", "value": "mlx5"}, {"name": "NCCL_DEBUG", "value": "WARN"}],
                "volumeMounts": [{"name": "datasets", "mountPath": "/datasets", "readOnly": True}],
                "resources": {"limits": {"cpu": "32"}},
            },
            {"name": "dcgm", "image": "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.5"},
        ],
        "volumes": [{"name": "datasets", "persistentVolumeClaim": {"claimName": "imagenet"}}],
    },
}


def _job(template: dict | None) -> SeerJob:
    spec: dict = {
        "resources": {"cpu": "16", "memory": "64Gi", "image": "nvcr.io/nvidia/pytorch:25.01-py3"},
        "checkpoint": {"url": "s3://ckpt/ngc"},
    }
    if template is not None:
        spec["template"] = template
    return SeerJob.model_validate({"metadata": {"name": "ngc", "namespace": "research"}, "spec": spec})


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_a_templated_worker_pod_passes_kubernetes_validate(version):
    kubernetes_validate.validate(worker_pod(_job(TEMPLATE), UID, 0, 0), version, strict=True)
    kubernetes_validate.validate(rendezvous_pod(_job(TEMPLATE), UID), version, strict=True)


def test_the_template_reaches_the_worker_pod_and_the_operator_keeps_what_it_owns():
    plain, templated = worker_pod(_job(None), UID, 0, 0), worker_pod(_job(TEMPLATE), UID, 0, 0)
    spec = templated["spec"]
    assert spec["schedulerName"] == "volcano" and spec["serviceAccountName"] == "bucket-reader"
    assert spec["imagePullSecrets"] == [{"name": "ngc"}]
    assert [c["name"] for c in spec["containers"]] == ["trainer", "dcgm"]
    trainer, before = spec["containers"][0], plain["spec"]["containers"][0]
    assert trainer["command"] == before["command"] and trainer["ports"] == before["ports"]
    assert trainer["image"] == "nvcr.io/nvidia/pytorch:25.01-py3"
    env = {e["name"]: e for e in trainer["env"]}
    assert env["NCCL_IB_HCA"]["value"] == "mlx5"
    assert env["SEER_JOB_SPEC"]["value"] == spec_json(_job(TEMPLATE))  # the contract env stays the operator's
    assert trainer["resources"]["limits"]["cpu"] == "32" and trainer["resources"]["requests"]["cpu"] == "16"
    labels = templated["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "research" and labels["seer.dev/job-name"] == "ngc"
    assert spec["restartPolicy"] == "Never"


def test_a_root_image_template_drops_run_as_non_root_and_nothing_else_does():
    assert worker_pod(_job(None), UID, 0, 0)["spec"]["securityContext"]["runAsNonRoot"] is True
    root = worker_pod(_job(TEMPLATE), UID, 0, 0)["spec"]["securityContext"]
    assert "runAsNonRoot" not in root and root["runAsUser"] == 0
    assert root["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_rendezvous_pod_gets_only_the_pull_secrets_and_the_root_user_of_the_same_image():
    pod = rendezvous_pod(_job(TEMPLATE), UID)
    assert pod["spec"]["imagePullSecrets"] == [{"name": "ngc"}]
    assert "runAsNonRoot" not in pod["spec"]["securityContext"]
    assert "schedulerName" not in pod["spec"] and len(pod["spec"]["containers"]) == 1


def test_every_operator_volume_name_is_reserved_against_templates():
    gcs = SeerJob.model_validate(
        {"metadata": {"name": "g"}, "spec": {"storage": {"secretName": "k"}, "checkpoint": {"url": "gs://b/r"}}}
    )
    pods = [worker_pod(gcs, UID, 0, 0), rendezvous_pod(gcs, UID), worker_pod(_job(None), UID, 0, 0)]
    names = {v["name"] for pod in pods for v in pod["spec"]["volumes"]}
    assert names <= set(RESERVED_VOLUMES)


def test_a_job_whose_template_sets_the_trainer_command_is_refused():
    bad = {"spec": {"containers": [{"name": "trainer", "command": ["python", "my.py"]}]}}
    with pytest.raises(ValueError, match="owns the trainer's"):
        _job(bad)
