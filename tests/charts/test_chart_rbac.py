"""The chart grants exactly the API calls the operator makes: its ClusterRole equals
seer.operators.rbac.REQUIRED_PERMISSIONS (no less: the operator would fail; no more:
least privilege), and a namespaced install's Role grants all of it that a Role can."""

from __future__ import annotations

from typing import Any

import pytest
from seer_chart_support import find, one, scenario

#: Cluster-scoped resources a Role cannot grant (extend when the operator needs another).
CLUSTER_SCOPED = {
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "namespaces"),
    ("", "nodes"),
    ("kopf.dev", "clusterkopfpeerings"),
    ("kueue.x-k8s.io", "resourceflavors"),
}

Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


def _required() -> set[Grant]:
    from seer.operators.rbac import REQUIRED_PERMISSIONS

    return {(group, resource, verb) for group, resource, verbs in REQUIRED_PERMISSIONS for verb in verbs}


def _granted(rules: list[dict[str, Any]]) -> set[Grant]:
    grants: set[Grant] = set()
    for rule in rules:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    grants.add((group, resource, verb))
    return grants


def _describe(grants: set[Grant]) -> list[str]:
    return sorted(f"{g or 'core'}/{r}:{v}" for g, r, v in grants)


def test_cluster_role_grants_exactly_what_the_operator_requires(render):
    granted = _granted(one(render({}), "ClusterRole")["rules"])
    required = _required()
    assert not required - granted, f"the operator would be forbidden: {_describe(required - granted)}"
    assert not granted - required, f"granted but never used: {_describe(granted - required)}"


def test_namespaced_role_grants_everything_required_except_cluster_scoped_resources(render):
    objs = render(scenario("namespaced-values"), namespace="ml-team")
    assert not find(objs, "ClusterRole")
    granted = _granted(one(objs, "Role")["rules"])
    required = {g for g in _required() if (g[0], g[1]) not in CLUSTER_SCOPED}
    assert granted == required, f"missing {_describe(required - granted)}, extra {_describe(granted - required)}"
    assert not {(g, r) for g, r, _ in granted} & CLUSTER_SCOPED


@pytest.mark.parametrize("namespaced", [False, True])
def test_no_wildcards_and_no_secrets(render, namespaced):
    objs = render({"rbac": {"namespaced": namespaced}})
    role = one(objs, "Role" if namespaced else "ClusterRole")
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    assert "secrets" not in {r for rule in role["rules"] for r in rule["resources"]}
