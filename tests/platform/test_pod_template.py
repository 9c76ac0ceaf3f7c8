"""spec.template: what a template may say (validation) and how it merges into a pod (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from seer.platform.pod_template import PodTemplate, apply_pod_template, merge_by_name


def _pod() -> dict[str, Any]:
    """The shape of an operator-built worker pod, reduced to what the merge touches."""
    return {
        "metadata": {"name": "w", "labels": {"seer.dev/job-name": "j"}, "annotations": {"seer.dev/spec-hash": "h"}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "nodeSelector": {"pool": "h100"},
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "priorityClassName": "training",
            "containers": [
                {
                    "name": "trainer",
                    "image": "seer:1",
                    "command": ["torchrun"],
                    "env": [{"name": "SEER_JOB_SPEC", "value": "{}"}, {"name": "OMP_NUM_THREADS", "value": "12"}],
                    "resources": {"requests": {"cpu": "8"}, "limits": {"cpu": "8", "memory": "1Gi"}},
                    "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
                }
            ],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
        },
    }


def _template(spec: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> PodTemplate:
    return PodTemplate.model_validate({"spec": spec or {}, "metadata": metadata or {}})


def _trainer(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "trainer")


# (template spec, path into the merged pod, expected value)
MERGES = [
    ({"schedulerName": "volcano"}, ("spec", "schedulerName"), "volcano"),
    ({"serviceAccountName": "bucket-reader"}, ("spec", "serviceAccountName"), "bucket-reader"),
    ({"priorityClassName": "low"}, ("spec", "priorityClassName"), "low"),
    ({"nodeSelector": {"zone": "a"}}, ("spec", "nodeSelector"), {"pool": "h100", "zone": "a"}),
    ({"nodeSelector": {"pool": "a100"}}, ("spec", "nodeSelector"), {"pool": "a100"}),
    (
        {"tolerations": [{"key": "gpu", "operator": "Exists"}, {"key": "spot", "operator": "Exists"}]},
        ("spec", "tolerations"),
        [{"key": "gpu", "operator": "Exists"}, {"key": "spot", "operator": "Exists"}],
    ),
    ({"imagePullSecrets": [{"name": "ngc"}]}, ("spec", "imagePullSecrets"), [{"name": "ngc"}]),
    (
        {"affinity": {"nodeAffinity": {"x": 1}}},
        ("spec", "affinity"),
        {"nodeAffinity": {"x": 1}},
    ),
    (
        {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "imagenet"}}]},
        ("spec", "volumes"),
        [
            {"name": "dshm", "emptyDir": {"medium": "Memory"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "imagenet"}},
        ],
    ),
    (
        {"initContainers": [{"name": "warm", "image": "busybox", "command": ["true"]}]},
        ("spec", "initContainers"),
        [{"name": "warm", "image": "busybox", "command": ["true"]}],
    ),
    (
        {"securityContext": {"runAsUser": 1000, "fsGroup": 1000}},
        ("spec", "securityContext"),
        {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 1000, "fsGroup": 1000},
    ),
    (
        {"securityContext": {"runAsUser": 0}},
        ("spec", "securityContext"),
        {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 0},
    ),
]


@pytest.mark.parametrize(("spec", "path", "expected"), MERGES, ids=[str(m[0])[:40] for m in MERGES])
def test_template_fields_merge_strategically(spec, path, expected) -> None:
    node: Any = apply_pod_template(_pod(), _template(spec))
    for key in path:
        node = node[key]
    assert node == expected


def test_trainer_env_mounts_and_limits_merge_by_name_and_the_operators_entries_win() -> None:
    template = _template(
        {
            "containers": [
                {
                    "name": "trainer",
                    "env": [{"name": "NCCL_DEBUG", "value": "INFO"}, {"name": "OMP_NUM_THREADS", "value": "1"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    "resources": {"limits": {"cpu": "16"}},
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        }
    )
    trainer = _trainer(apply_pod_template(_pod(), template))
    env = {e["name"]: e["value"] for e in trainer["env"]}
    assert env == {"SEER_JOB_SPEC": "{}", "OMP_NUM_THREADS": "12", "NCCL_DEBUG": "INFO"}
    assert [m["name"] for m in trainer["volumeMounts"]] == ["dshm", "data"]
    assert trainer["resources"] == {"requests": {"cpu": "8"}, "limits": {"cpu": "16", "memory": "1Gi"}}
    assert trainer["command"] == ["torchrun"] and trainer["image"] == "seer:1"


def test_sidecars_are_added_and_labels_never_replace_the_operators() -> None:
    template = _template(
        {"containers": [{"name": "log-shipper", "image": "fluent-bit:3"}]},
        {"labels": {"team": "vision", "seer.dev/job-name": "other"}, "annotations": {"kueue.x-k8s.io/x": "y"}},
    )
    pod = apply_pod_template(_pod(), template)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["trainer", "log-shipper"]
    assert pod["metadata"]["labels"] == {"seer.dev/job-name": "j", "team": "vision"}
    assert pod["metadata"]["annotations"] == {"seer.dev/spec-hash": "h", "kueue.x-k8s.io/x": "y"}


def test_the_rendezvous_pod_takes_only_the_image_pull_secrets_and_the_user() -> None:
    spec = {"imagePullSecrets": [{"name": "ngc"}], "schedulerName": "volcano", "securityContext": {"runAsUser": 0}}
    pod = apply_pod_template(_pod(), _template(spec, {"labels": {"a": "b"}}), worker=False)
    assert pod["spec"]["imagePullSecrets"] == [{"name": "ngc"}]
    assert pod["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 0}
    assert "schedulerName" not in pod["spec"] and "a" not in pod["metadata"]["labels"]


def test_an_empty_template_changes_nothing_and_the_input_is_not_modified() -> None:
    pod = _pod()
    assert apply_pod_template(pod, PodTemplate()) == _pod()
    apply_pod_template(pod, _template({"containers": [{"name": "trainer", "env": [{"name": "A", "value": "1"}]}]}))
    assert pod == _pod()


# (template spec, words the error must contain)
REFUSED = [
    ({"containers": [{"name": "trainer", "command": ["bash"]}]}, "owns the trainer's"),
    ({"containers": [{"name": "trainer", "image": "mine:1"}]}, "resources.image"),
    ({"containers": [{"name": "trainer", "ports": [{"containerPort": 1}]}]}, "ports"),
    ({"containers": [{"name": "trainer", "env": [{"name": "SEER_JOB_SPEC", "value": "x"}]}]}, "SEER_JOB_SPEC"),
    ({"containers": [{"name": "trainer", "resources": {"requests": {"cpu": "1"}}}]}, "limits"),
    ({"containers": [{"name": "sidecar"}]}, "needs an `image`"),
    ({"containers": [{"image": "x"}]}, "needs a `name`"),
    ({"volumes": [{"name": "dshm", "emptyDir": {}}]}, "rename it"),
    ({"hostNetwork": True}, "hostNetwork"),
    ({"restartPolicy": "Always"}, "restartPolicy"),
]


@pytest.mark.parametrize(("spec", "words"), REFUSED, ids=[str(r[0])[:50] for r in REFUSED])
def test_what_the_operator_owns_is_refused_with_a_message(spec, words) -> None:
    with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace("`", "`")):
        _template(spec)


def test_merge_by_name_keeps_order_and_the_winner() -> None:
    base = [{"name": "a", "v": 1}, {"name": "b", "v": 1}]
    extra = [{"name": "b", "v": 2}, {"name": "c", "v": 2}]
    assert merge_by_name(base, extra, base_wins=True) == [
        {"name": "a", "v": 1},
        {"name": "b", "v": 1},
        {"name": "c", "v": 2},
    ]
    assert merge_by_name(base, extra, base_wins=False) == [
        {"name": "a", "v": 1},
        {"name": "b", "v": 2},
        {"name": "c", "v": 2},
    ]
