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


def _operator_role(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one([r for r in find(objs, "Role") if not r["metadata"]["name"].endswith("-leader-election")], "Role")


def _leader_election_role(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return one([r for r in find(objs, "Role") if r["metadata"]["name"].endswith("-leader-election")], "Role")


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
    granted = _granted(_operator_role(objs)["rules"])
    required = {g for g in _required() if (g[0], g[1]) not in CLUSTER_SCOPED}
    assert granted == required, f"missing {_describe(required - granted)}, extra {_describe(granted - required)}"
    assert not {(g, r) for g, r, _ in granted} & CLUSTER_SCOPED


@pytest.mark.parametrize("namespaced", [False, True])
def test_no_wildcards_and_no_secrets(render, namespaced):
    objs = render({"rbac": {"namespaced": namespaced}})
    role = _operator_role(objs) if namespaced else one(objs, "ClusterRole")
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
    assert "secrets" not in {r for rule in role["rules"] for r in rule["resources"]}


@pytest.mark.parametrize("namespaced", [False, True])
def test_leader_election_lease_is_granted_by_a_role_in_the_release_namespace_only(render, namespaced):
    from seer.operators.rbac import LEADER_ELECTION_PERMISSIONS

    objs = render({"rbac": {"namespaced": namespaced}}, namespace="ops")
    role = _leader_election_role(objs)
    assert role["metadata"]["namespace"] == "ops"
    wanted = {(g, r, v) for g, r, verbs in LEADER_ELECTION_PERMISSIONS for v in verbs}
    assert _granted(role["rules"]) == wanted
    binding = next(b for b in find(objs, "RoleBinding") if b["roleRef"]["name"] == role["metadata"]["name"])
    sa = one(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "ops"}]
    cluster_rules = [rule for c in find(objs, "ClusterRole") for rule in c["rules"]]
    assert "leases" not in {r for rule in cluster_rules for r in rule["resources"]}, "leases cluster-wide"


def test_no_lease_permission_without_leader_election(render):
    objs = render({"operator": {"leaderElection": {"enabled": False}}})
    assert not [r for r in find(objs, "Role") if r["metadata"]["name"].endswith("-leader-election")]
