"""Every object the chart renders is valid Kubernetes: built-in kinds (and the CRD)
against the API schemas of the oldest and newest supported versions with
kubernetes-validate (strict: unknown fields are errors); prometheus-operator kinds
against structural schemas of their CRDs."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest
from prometheus_operator_schemas import SCHEMAS
from seer_chart_support import KUBE_VERSIONS, PROMETHEUS_OPERATOR_GROUP, SCENARIO_IDS, SCENARIOS, crd_objects


def _is_prometheus_operator(obj) -> bool:
    return obj["apiVersion"].split("/")[0] == PROMETHEUS_OPERATOR_GROUP


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_rendered_builtin_objects_validate_strictly(render, name, values, kube_version):
    builtin = [o for o in render(values) if not _is_prometheus_operator(o)]
    assert builtin
    for obj in builtin:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {kube_version} at {path}: {e.message}")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_the_crd_validates_strictly(kube_version):
    crds = crd_objects()
    assert crds
    for obj in crds:
        kubernetes_validate.validate(obj, kube_version, strict=True)


@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_prometheus_operator_objects_match_their_crd_structure(render, name, values):
    for obj in (o for o in render(values) if _is_prometheus_operator(o)):
        jsonschema.validate(obj, SCHEMAS[obj["kind"]])


def test_validation_catches_a_misspelled_field():
    # The checks above can fail: a typo in a Deployment is rejected in strict mode...
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicy": "Always", "securityContex": {}}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSIONS[0], strict=True)
    # ... and so is one in a PodMonitor endpoint.
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "m", "namespace": "n"},
               "spec": {"selector": {}, "podMetricsEndpoints": [{"intervall": "10s"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, SCHEMAS["PodMonitor"])


def test_every_prometheus_operator_kind_the_chart_can_render_has_a_schema(render):
    all_on = dict(SCENARIOS)["monitoring-values"]
    kinds = {o["kind"] for o in render(all_on) if _is_prometheus_operator(o)}
    assert kinds == set(SCHEMAS)
