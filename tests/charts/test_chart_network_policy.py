"""The chart's NetworkPolicies (issue 12, items 16 and 17): off by default; when on, only
Seer workers reach the rendezvous TCPStore and each other, only the monitoring namespace
reaches metrics ports. Checked by evaluating the rendered policies, with Kubernetes'
semantics, against the labels and ports of the pods the operator really creates.
Also: the operator image by digest."""

from __future__ import annotations

import re
from typing import Any

import helm_python
import pytest
from seer_chart_support import NAMESPACE, find

from seer.operators import children
from seer.platform.loading import parse_job

ON = {"networkPolicy": {"enabled": True}}
DIGEST = "sha256:" + "0123456789abcdef" * 4


# --------------------------------------------------------- a NetworkPolicy evaluator


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "the evaluator knows matchLabels only"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_allows(peer: dict[str, Any], policy_ns: str, src: Pod) -> bool:
    ns_ok = _matches(peer["namespaceSelector"], src.ns_labels) if "namespaceSelector" in peer else src.ns == policy_ns
    pod_ok = _matches(peer["podSelector"], src.labels) if "podSelector" in peer else True
    return ns_ok and pod_ok


def _port_allows(ports: list[dict[str, Any]] | None, port: int) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == "TCP" and p["port"] <= port <= p.get("endPort", p["port"]) for p in ports)


class Pod:
    def __init__(self, ns: str, labels: dict[str, str], ns_labels: dict[str, str] | None = None) -> None:
        self.ns, self.labels = ns, labels
        self.ns_labels = {"kubernetes.io/metadata.name": ns, **(ns_labels or {})}


def allowed(policies: list[dict[str, Any]], src: Pod, dst: Pod, port: int) -> bool:
    """Kubernetes' rule: a pod selected by no ingress policy takes everything; else the union of rules."""
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == dst.ns
        and _matches(p["spec"]["podSelector"], dst.labels)
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    return any(
        _port_allows(rule.get("ports"), port)
        and (not rule.get("from") or any(_peer_allows(peer, p["metadata"]["namespace"], src) for peer in rule["from"]))
        for p in selecting
        for rule in p["spec"].get("ingress", [])
    )


# ------------------------------------------------------------------------- the pods

JOB = parse_job("metadata: {name: demo, namespace: seer-system}\nspec:\n  resources: {procsPerNode: 2}\n")
OTHER_JOB = parse_job("metadata: {name: other, namespace: seer-system}\n")
WORKER = Pod(NAMESPACE, children.worker_pod(JOB, "uid", 0, 0)["metadata"]["labels"])
PEER = Pod(NAMESPACE, children.worker_pod(JOB, "uid", 1, 0)["metadata"]["labels"])
RENDEZVOUS = Pod(NAMESPACE, children.rendezvous_pod(JOB, "uid")["metadata"]["labels"])
STRANGER = Pod(NAMESPACE, {"app": "notebook"})
ELSEWHERE = Pod("team-b", children.worker_pod(OTHER_JOB, "uid", 0, 0)["metadata"]["labels"])
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
#: The port the operator gives the rendezvous container (read from the manifest it builds).
STORE_PORT = children.rendezvous_pod(JOB, "uid")["spec"]["containers"][0]["ports"][0]["containerPort"]
METRICS_PORT = JOB.spec.metrics.port


def _operator(render_objs: list[dict[str, Any]]) -> Pod:
    deployment = find(render_objs, "Deployment")[0]
    return Pod(NAMESPACE, deployment["spec"]["template"]["metadata"]["labels"])


def test_no_network_policy_by_default(render):
    assert find(render({}), "NetworkPolicy") == []


def test_the_chart_defaults_match_the_ports_the_operator_uses(chart):
    values = chart.values
    assert values["networkPolicy"]["rendezvousPort"] == STORE_PORT
    assert values["networkPolicy"]["workerMetricsPort"] == JOB.spec.metrics.port


def test_only_workers_of_the_namespace_reach_the_rendezvous_store(render):
    policies = find(render(ON), "NetworkPolicy")
    assert allowed(policies, WORKER, RENDEZVOUS, STORE_PORT)
    assert not allowed(policies, WORKER, RENDEZVOUS, STORE_PORT + 1)
    for src in (STRANGER, ELSEWHERE, PROMETHEUS):
        assert not allowed(policies, src, RENDEZVOUS, STORE_PORT), src.labels


def test_workers_reach_each_other_on_any_port_and_nobody_else_does(render):
    policies = find(render(ON), "NetworkPolicy")
    for port in (29500, 40123, METRICS_PORT):
        assert allowed(policies, PEER, WORKER, port)
        assert not allowed(policies, STRANGER, WORKER, port)
        assert not allowed(policies, ELSEWHERE, WORKER, port)


def test_only_the_monitoring_namespace_scrapes_the_workers_metrics_ports(render):
    policies = find(render(ON), "NetworkPolicy")
    for rank in range(8):
        assert allowed(policies, PROMETHEUS, WORKER, METRICS_PORT + rank)
        assert not allowed(policies, STRANGER, WORKER, METRICS_PORT + rank)
    assert not allowed(policies, PROMETHEUS, WORKER, METRICS_PORT + 8)
    assert not allowed(policies, PROMETHEUS, WORKER, 29500)


def test_only_the_monitoring_namespace_scrapes_the_operator(render):
    objs = render(ON)
    policies, operator = find(objs, "NetworkPolicy"), _operator(objs)
    assert allowed(policies, PROMETHEUS, operator, 8080)
    assert not allowed(policies, PROMETHEUS, operator, 8081)
    assert not allowed(policies, STRANGER, operator, 8080)


def test_the_metrics_namespace_and_port_range_are_settings(render):
    values = {
        "networkPolicy": {
            "enabled": True,
            "metricsNamespaceSelector": {"team": "observability"},
            "workerMetricsPort": 9000,
            "workerMetricsPorts": 1,
        }
    }
    policies = find(render(values), "NetworkPolicy")
    scraper = Pod("obs", {}, {"team": "observability"})
    assert allowed(policies, scraper, WORKER, 9000)
    assert not allowed(policies, scraper, WORKER, 9001)
    assert not allowed(policies, PROMETHEUS, WORKER, 9000)


def test_the_metrics_namespace_is_a_setting(render):
    policies = find(render({"networkPolicy": {"enabled": True, "metricsNamespace": "obs"}}), "NetworkPolicy")
    assert allowed(policies, Pod("obs", {}), WORKER, METRICS_PORT)
    assert not allowed(policies, PROMETHEUS, WORKER, METRICS_PORT)


def test_each_job_namespace_gets_the_worker_and_rendezvous_policies(render):
    values = {"networkPolicy": {"enabled": True, "jobNamespaces": ["team-a", "team-b"]}}
    policies = find(render(values), "NetworkPolicy")
    by_ns = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in policies)
    assert by_ns == [
        ("seer-system", "seer-operator"),
        ("team-a", "seer-rendezvous"),
        ("team-a", "seer-workers"),
        ("team-b", "seer-rendezvous"),
        ("team-b", "seer-workers"),
    ]
    rendezvous_b = Pod("team-b", RENDEZVOUS.labels)
    assert allowed(policies, ELSEWHERE, rendezvous_b, STORE_PORT)
    assert not allowed(policies, WORKER, rendezvous_b, STORE_PORT), "a worker of another namespace"


def test_policies_restrict_ingress_only(render):
    for policy in find(render(ON), "NetworkPolicy"):
        assert policy["spec"]["policyTypes"] == ["Ingress"], "egress (object storage, registries) stays open"


# ------------------------------------------------------------------- image by digest


def _image(objs: list[dict[str, Any]]) -> str:
    return find(objs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["image"]


def test_the_operator_image_is_pinned_by_digest_when_one_is_given(render):
    assert "@" not in _image(render({}))
    image = _image(render({"image": {"digest": DIGEST}}))
    assert image.endswith("@" + DIGEST) and ":" not in image.split("@")[0].rsplit("/", 1)[-1]


@pytest.mark.parametrize("digest", ["latest", "sha256:abc", "sha256:" + "G" * 64])
def test_the_schema_refuses_a_malformed_digest(chart, digest: str):
    with pytest.raises(helm_python.HelmError, match=re.escape("/image/digest")):
        chart.validate_schema({"image": {"digest": digest}})


@pytest.mark.parametrize(
    "values, where",
    [
        ({"networkPolicy": {"workerMetricsPorts": 0}}, "/networkPolicy/workerMetricsPorts"),
        ({"networkPolicy": {"jobNamespaces": ["Team_A"]}}, "/networkPolicy/jobNamespaces/0"),
        ({"networkPolicy": {"metricsNamespace": "Monitoring"}}, "/networkPolicy/metricsNamespace"),
        ({"networkPolicy": {"metricsNamespaceSelector": {"team": 1}}}, "/networkPolicy/metricsNamespaceSelector/team"),
        ({"networkPolicy": {"enable": True}}, "/networkPolicy"),
    ],
)
def test_the_schema_refuses_bad_network_policy_values(chart, values, where):
    with pytest.raises(helm_python.HelmError, match=re.escape(where)):
        chart.validate_schema(values)
