"""values.schema.json accepts the defaults and every scenario, and rejects wrong types,
unknown keys (typos) and out-of-range values before anything is rendered."""

from __future__ import annotations

import json
import re

import helm_python
import pytest
from seer_chart_support import CHART, SCENARIO_IDS, SCENARIOS

#: id -> (values, where the schema error must point)
BAD_VALUES = {
    "unknown top-level key": ({"monitorng": {"podMonitor": {"enabled": True}}}, "'monitorng' not allowed"),
    "unknown nested key": ({"monitoring": {"podMonitor": {"enable": True}}}, "/monitoring/podMonitor"),
    "unknown operator key": ({"operator": {"replica": 2}}, "'replica' not allowed"),
    "replicas > 1 without leader election": (
        {"operator": {"replicas": 2, "leaderElection": {"enabled": False}}},
        "/operator/leaderElection/enabled",
    ),
    "no operator replica": ({"operator": {"replicas": 0}}, "/operator/replicas"),
    "PDB maxUnavailable 0 blocks every drain": (
        {"operator": {"podDisruptionBudget": {"maxUnavailable": 0}}},
        "/operator/podDisruptionBudget/maxUnavailable",
    ),
    "wrong type: bool as string": ({"rbac": {"namespaced": "yes"}}, "/rbac/namespaced"),
    "wrong type: port as string": ({"operator": {"metrics": {"port": "8080"}}}, "/operator/metrics/port"),
    "port out of range": ({"operator": {"health": {"port": 70000}}}, "/operator/health/port"),
    "bad pull policy": ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    "bad scrape interval": ({"monitoring": {"podMonitor": {"interval": "fast"}}}, "/monitoring/podMonitor/interval"),
    "non-string label value": ({"monitoring": {"prometheusRule": {"labels": {"release": 1}}}}, "/monitoring/prometheusRule/labels/release"),
    "invalid ServiceAccount name": ({"serviceAccount": {"name": "Not_A_DNS_Name"}}, "/serviceAccount/name"),
    "pull secret without a name": ({"imagePullSecrets": [{}]}, "/imagePullSecrets/0"),
    "extraArgs not strings": ({"operator": {"extraArgs": [1]}}, "/operator/extraArgs/0"),
}


@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_schema_accepts_defaults_and_scenarios(chart, name, values):
    chart.validate_schema(values)


@pytest.mark.parametrize("values,where", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values_and_names_the_field(chart, values, where):
    with pytest.raises(helm_python.HelmError, match=re.escape(where)):
        chart.validate_schema(values)


@pytest.mark.parametrize("values,where", list(BAD_VALUES.values())[:3], ids=list(BAD_VALUES)[:3])
def test_rendering_refuses_values_the_schema_rejects(chart, values, where):
    with pytest.raises(helm_python.HelmError):
        chart.render(values, name="seer", namespace="seer-system", is_install=True)


def _schema_objects(node, path="$"):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield path, node
        for key, child in node.items():
            yield from _schema_objects(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _schema_objects(child, f"{path}[{i}]")


def test_every_object_with_declared_properties_forbids_unknown_keys():
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = [path for path, node in _schema_objects(schema) if node.get("additionalProperties") is not False]
    assert open_objects == []


def test_every_default_value_is_declared_in_the_schema(chart):
    schema = json.loads((CHART / "values.schema.json").read_text())

    def undeclared(values, node, path):
        for key, value in values.items():
            child = node.get("properties", {}).get(key)
            if child is None:
                yield f"{path}{key}"
            elif isinstance(value, dict) and "properties" in child:
                yield from undeclared(value, child, f"{path}{key}.")

    assert list(undeclared(chart.values, schema, "")) == []
