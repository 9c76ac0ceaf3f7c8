"""The chart renders with real Helm for the defaults and every ci/ scenario, and what it
renders is what each switch promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from seer_chart_support import (
    ALERTS_FILE,
    DASHBOARD_FILE,
    NAMESPACE,
    SCENARIO_IDS,
    SCENARIOS,
    crd_objects,
    find,
    one,
    render_files,
    render_notes,
    scenario,
)

NAMESPACED_KINDS = {"Deployment", "ServiceAccount", "Service", "Role", "RoleBinding", "PodDisruptionBudget",
                    "ConfigMap", "ServiceMonitor", "PodMonitor", "PrometheusRule"}


def _container(objs):
    return one(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _operator_roles(objs, kind):
    """Roles/RoleBindings of the operator's API calls (not the leader election Lease's)."""
    return [o for o in find(objs, kind) if not o["metadata"]["name"].endswith("-leader-election")]


def _env(container) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_each_template_file_renders_at_most_one_labelled_object(chart, name, values):
    rendered = render_files(chart, values)
    assert rendered, "nothing rendered"
    for path, docs in rendered.items():
        assert len(docs) <= 1, f"{path} renders {len(docs)} objects; one resource per file"
        for obj in docs:
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "seer"
            assert labels["app.kubernetes.io/instance"] == "seer"
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["helm.sh/chart"] == "seer-0.1.0"
            if obj["kind"] in NAMESPACED_KINDS and obj["kind"] != "ConfigMap":
                assert obj["metadata"]["namespace"] == NAMESPACE, path


def test_default_install_is_the_operator_and_its_cluster_rbac_without_monitoring(render):
    kinds = sorted(o["kind"] for o in render({}))
    assert kinds == [
        "ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount"]
    # The Role is the leader election Lease's, in the release namespace (test_chart_rbac.py).
    assert [r["metadata"]["name"] for r in find(render({}), "Role")] == ["seer-operator-leader-election"]


def test_the_crd_ships_in_the_crds_folder():
    names = [o["metadata"]["name"] for o in crd_objects() if o["kind"] == "CustomResourceDefinition"]
    assert names == ["seerjobs.seer.dev"]


@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_operator_pod_is_non_root_read_only_without_capabilities_and_requests_resources(render, name, values):
    objs = render(values)
    pod = one(objs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_operator_runs_the_operator_main_with_metrics_and_liveness_ports(render):
    container = _container(render({"operator": {"metrics": {"port": 9090}, "health": {"port": 9091}}}))
    assert container["command"] == ["python", "-m", "seer.operators.main"]
    assert container["args"][:2] == ["--metrics-port=9090", "--liveness=http://0.0.0.0:9091/healthz"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9090, "health": 9091}


def test_operator_main_accepts_the_arguments_the_chart_passes(render):
    # The rendered command line must parse with the operator's own argument parser.
    values = {"rbac": {"namespaced": True}, "operator": {"extraArgs": ["--verbose"]}}
    chart_args = _container(render(values, namespace="ml-team"))["args"]
    import argparse
    from unittest import mock

    from seer.operators import main as operator_main

    seen: dict[str, argparse.Namespace] = {}
    real_parse = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        seen["args"] = real_parse(self, args, namespace)
        raise SystemExit(0)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture), pytest.raises(SystemExit):
        operator_main.main(chart_args)
    parsed = seen["args"]
    assert (parsed.metrics_port, parsed.liveness, parsed.namespace, parsed.verbose) == (8080, "http://0.0.0.0:8081/healthz", ["ml-team"], True)


def test_operator_watches_all_namespaces_with_cluster_rbac_by_default(render):
    objs = render({})
    args = _container(objs)["args"]
    assert not [a for a in args if a.startswith("--namespace")]  # none: all namespaces
    assert not _operator_roles(objs, "Role") and not _operator_roles(objs, "RoleBinding")


def test_namespaced_install_uses_a_role_and_watches_only_its_namespace(render):
    objs = render(scenario("namespaced-values"), namespace="ml-team")
    args = _container(objs)["args"]
    assert [a for a in args if a.startswith("--namespace")] == ["--namespace=ml-team"]
    assert not find(objs, "ClusterRole") and not find(objs, "ClusterRoleBinding")
    role, binding = one(_operator_roles(objs, "Role"), "Role"), one(_operator_roles(objs, "RoleBinding"), "RoleBinding")
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "ml-team"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    # Its training pods are scraped in its namespace only.
    assert one(objs, "PodMonitor")["spec"]["namespaceSelector"] == {"matchNames": ["ml-team"]}


@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_rbac_binds_the_service_account_the_operator_runs_as(render, name, values):
    objs = render(values)
    sa_name = one(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    for binding in find(objs, "ClusterRoleBinding") + find(objs, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": NAMESPACE}]
    accounts = find(objs, "ServiceAccount")
    assert [a["metadata"]["name"] for a in accounts] in ([sa_name], [])


def test_cluster_role_name_includes_the_namespace_so_two_releases_do_not_collide(render):
    a = one(render({}, namespace="team-a"), "ClusterRole")["metadata"]["name"]
    b = one(render({}, namespace="team-b"), "ClusterRole")["metadata"]["name"]
    assert a != b


def test_bring_your_own_rbac_renders_no_rbac_and_runs_as_the_named_account(render):
    objs = render(scenario("byo-rbac-values"))
    assert sorted(o["kind"] for o in objs) == ["Deployment", "Service"]
    assert one(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "seer-operator-managed"


def test_custom_image_pull_secrets_scheduling_and_worker_defaults_reach_the_pod(render):
    objs = render(scenario("custom-image-values"))
    deployment = one(objs, "Deployment")
    assert deployment["metadata"]["name"] == "ml-seer-operator"
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example.com/ml/seer:0.1.0-cu124"
    assert container["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["serviceAccountName"] == "seer-operator-sa"
    assert container["args"][-1] == "--verbose"
    env = _env(container)
    assert env["SEER_WORKER_IMAGE"] == "registry.example.com/ml/seer:0.1.0-cu124"
    assert env["SEER_WORKER_IMAGE_PULL_POLICY"] == "Always"
    assert env["SEER_WORKER_SERVICE_ACCOUNT"] == "seer-training"
    assert env["HTTPS_PROXY"] == "http://proxy.example.com:3128"


def test_default_image_is_the_app_version_and_worker_image_is_left_to_the_spec(render, chart):
    container = _container(render({}))
    assert container["image"] == f"ghcr.io/seer-platform/seer:{chart.metadata['appVersion']}"
    assert "SEER_WORKER_IMAGE" not in _env(container)


def test_metrics_service_selects_the_operator_pod_on_its_metrics_port(render):
    objs = render({})
    service, deployment = one(objs, "Service"), one(objs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]


def test_monitoring_scenario_creates_monitors_rule_dashboard_and_pdb(render):
    objs = render(scenario("monitoring-values"))
    service = one(objs, "Service")

    monitor = one(objs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"

    pod_monitor = one(objs, "PodMonitor")
    assert pod_monitor["spec"]["selector"] == {"matchLabels": {"seer.dev/role": "worker"}}
    assert pod_monitor["spec"]["namespaceSelector"] == {"any": True}
    endpoint = pod_monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["interval"] == "10s"
    keep = endpoint["relabelings"][0]
    assert keep["action"] == "keep" and keep["sourceLabels"] == ["__meta_kubernetes_pod_container_port_name"]
    port_regex = re.compile(f"^(?:{keep['regex']})$")  # Prometheus anchors relabel regexes
    assert [p for p in ("metrics", "metrics-1", "metrics-7", "health", "metricsx", "http") if port_regex.match(p)] == [
        "metrics", "metrics-1", "metrics-7"]

    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= one(objs, "Deployment")["spec"]["template"]["metadata"]["labels"].items()


def test_prometheus_rule_carries_exactly_the_alerts_source_file(render):
    rule = one(render(scenario("monitoring-values")), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(ALERTS_FILE.read_text())


def test_dashboard_configmap_is_labelled_for_grafanas_sidecar_and_holds_the_generated_json(render):
    configmap = one(render(scenario("monitoring-values")), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Training"}
    assert configmap["data"] == {DASHBOARD_FILE.name: DASHBOARD_FILE.read_text()}
    assert json.loads(configmap["data"][DASHBOARD_FILE.name])["uid"] == "seer-training"


def test_notes_tell_how_to_submit_and_follow_a_first_job(chart):
    notes = render_notes(chart, {})
    assert "seerctl submit examples/cluster-regnety-3.2gf.yaml --scheduler kubernetes" in notes
    assert "kubectl apply -f examples/cluster-regnety-3.2gf.yaml" in notes
    assert "seerctl status swav-regnety-3-2gf -s kubernetes" in notes
    # The job the notes name exists in the repository and is valid.
    from seer.platform.loading import load_job

    assert load_job(Path(__file__).resolve().parents[2] / "examples" / "cluster-regnety-3.2gf.yaml").name == "swav-regnety-3-2gf"
    namespaced = render_notes(chart, scenario("namespaced-values"), namespace="ml-team")
    assert "watches SeerJobs in namespace ml-team only" in namespaced
    assert "kubectl apply -n ml-team -f examples/cluster-regnety-3.2gf.yaml" in namespaced
