"""The Grafana dashboard: generated file in sync, the panels the issue lists, a job
selector that every per-job query honours, and queries Prometheus can parse."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from seer.platform.monitoring import dashboard as dash

DASHBOARD = dash.build_dashboard()
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
#: Queries that describe the operator as a whole rather than one job.
OPERATOR_WIDE = ("seer_operator_reconciles_total", "seer_operator_jobs")


def test_committed_dashboard_file_matches_the_generator():
    path = dash.repo_root() / dash.DASHBOARD_RELPATH
    assert path.read_text(encoding="utf-8") == dash.render(DASHBOARD), (
        "run python -m seer.platform.monitoring.dashboard --write"
    )


def test_check_mode_reports_drift(tmp_path, capsys):
    stale = tmp_path / "dashboard.json"
    stale.write_text("{}\n")
    assert dash.main(["--check", "--path", str(stale)]) == 1
    assert dash.main(["--write", "--path", str(stale)]) == 0
    assert dash.main(["--check", "--path", str(stale)]) == 0
    assert json.loads(stale.read_text())["uid"] == "seer-training"


def test_dashboard_says_it_is_generated_and_by_what():
    assert "python -m seer.platform.monitoring.dashboard --write" in DASHBOARD["description"]
    assert "do not edit" in DASHBOARD["description"]


@pytest.mark.parametrize(
    "needle,title",
    [
        ("seer_train_images_total", "Images per second"),
        ("seer_train_step_duration_seconds_bucket", "Step time quantiles"),
        ("seer_train_loss", "Loss"),
        ("seer_train_learning_rate", "Learning rate"),
        ("seer_train_model_flops_utilization_ratio", "Model FLOPs utilization"),
        ("seer_train_data_wait_seconds_total", "Data-wait share"),
        ("seer_checkpoint_save_duration_seconds_bucket", "Checkpoint duration"),
        ("seer_checkpoint_last_success_timestamp_seconds", "Checkpoint age"),
        ("seer_operator_job_restarts", "Restarts"),
        ("seer_operator_job_nodes_desired", "Nodes ready vs desired"),
    ],
)
def test_the_issue_s_per_job_panels_exist(needle, title):
    panel = next((p for p in PANELS if p["title"] == title), None)
    assert panel is not None, f"no panel {title!r}"
    assert any(needle in t["expr"] for t in panel["targets"])


def test_job_selector_variable_lists_the_chosen_namespaces_jobs_and_allows_several():
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    job, namespace = variables["seer_job"], variables["namespace"]
    assert job["query"]["query"] == 'label_values(seer_train_step{namespace=~"$namespace"}, seer_job)'
    assert namespace["query"]["query"] == "label_values(seer_train_step, namespace)"
    for var in (job, namespace):
        assert var["multi"] is True and var["includeAll"] is True and var["allValue"] == ".*"
    names = [v["name"] for v in DASHBOARD["templating"]["list"]]
    assert names.index("namespace") < names.index("seer_job"), "the job list follows the namespace selection"
    assert variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("title,expr", dash.panel_queries(DASHBOARD))
def test_every_per_job_query_selects_the_chosen_jobs(title, expr):
    if any(name in expr for name in OPERATOR_WIDE):
        return
    selectors = expr.count("{")
    assert selectors and expr.count('namespace=~"$namespace", seer_job=~"$seer_job"') == selectors, f"{title}: {expr}"


@pytest.mark.parametrize("title,expr", dash.panel_queries(DASHBOARD))
def test_every_per_job_aggregation_keeps_namespace_and_job_apart_like_the_alerts(title, expr):
    """Two namespaces' jobs of one name must stay two lines (the alerts use the same pair)."""
    import re

    if any(name in expr for name in OPERATOR_WIDE):
        return
    groupings = re.findall(r"\bby \(([^)]*)\)", expr)
    assert groupings, f"{title}: no aggregation"
    for labels in groupings:
        assert labels.replace(" ", "").startswith("namespace,seer_job"), f"{title}: by ({labels})"


def test_per_rank_panels_the_runbooks_point_at_exist():
    titles = {p["title"]: p for p in PANELS}
    for title, label in (("Step time per rank", "rank"), ("Data-wait share per rank", "rank")):
        assert title in titles, title
        assert all(f", {label})" in t["expr"] for t in titles[title]["targets"]), title
    assert "Step time skew across ranks" in titles


def test_panel_ids_are_unique_and_panels_do_not_overlap():
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in DASHBOARD["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps another panel"
                cells.add((x, y))
        assert g["x"] + g["w"] <= 24


def test_every_query_is_valid_promql(promtool, tmp_path):
    # promtool parses every expression of a rules file; recording rules make that a
    # PromQL syntax check with no server.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:query_{i}",
                        "expr": dash.instantiate(expr, seer_job="quickstart|other", namespace="team-a"),
                    }
                    for i, (_title, expr) in enumerate(dash.panel_queries(DASHBOARD))
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promql_check_rejects_a_broken_query(promtool, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum by (seer_job (x)"}]}]})
    )
    assert subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, timeout=60).returncode != 0


def test_instantiate_substitutes_grafana_variables_and_refuses_unknown_ones():
    out = dash.instantiate('rate(x{seer_job=~"$seer_job"}[$__rate_interval])', seer_job="a|b", rate_interval="2m")
    assert out == 'rate(x{seer_job=~"a|b"}[2m])'
    with pytest.raises(ValueError, match="__interval"):
        dash.instantiate("rate(x[$__interval])")
