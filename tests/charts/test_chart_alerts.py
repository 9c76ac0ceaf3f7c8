"""The alert rules (charts/seer/files/alerts.yaml) are valid for Prometheus, and promtool
unit tests show every alert firing when it should and staying silent when it should not.

The promtool test files live next to this module. They run against copies of the rules
with the long texts removed (annotations are compared verbatim by promtool); the copies
are otherwise the very file the chart ships.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from seer_chart_support import ALERTS_FILE

HERE = Path(__file__).parent
BEHAVIOUR_TESTS = HERE / "alerts_test.yaml"
SUMMARY_TESTS = HERE / "alerts_summary_test.yaml"
#: What the issue asks for, by name (more alerts are welcome, fewer are not).
REQUIRED_ALERTS = {"SeerTrainingStalled", "SeerCheckpointStale", "SeerRestartStorm", "SeerLossNaN", "SeerLossDiverging", "SeerDataLoadingStarved"}


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS_FILE.read_text())["groups"] for rule in group["rules"]]


ALERTS = [r["alert"] for r in _rules() if "alert" in r]


def _rules_without(drop: set[str], mutate: tuple[str, str] | None = None) -> str:
    """The rules file without the ``drop`` annotations; ``mutate`` replaces text in exactly one expr."""
    doc = yaml.safe_load(ALERTS_FILE.read_text())
    mutated = 0
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["annotations"] = {k: v for k, v in rule.get("annotations", {}).items() if k not in drop}
            if mutate and mutate[0] in rule["expr"]:
                rule["expr"] = rule["expr"].replace(*mutate)
                mutated += 1
    assert mutate is None or mutated == 1, f"mutation {mutate} applied to {mutated} rules, expected 1: update the test"
    return yaml.safe_dump(doc, sort_keys=False)


def _run_unit_tests(promtool: str, tests: Path, rules_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "alerts.yaml").write_text(rules_text)
    (tmp_path / tests.name).write_text(tests.read_text())
    return subprocess.run([promtool, "test", "rules", tests.name], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_promtool_check_rules_accepts_the_rules_file(promtool):
    result = subprocess.run([promtool, "check", "rules", str(ALERTS_FILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_every_alert_fires_and_stays_silent_as_the_unit_tests_expect(promtool, tmp_path):
    result = _run_unit_tests(promtool, BEHAVIOUR_TESTS, _rules_without({"summary", "description"}), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_summaries_render_job_names_and_values(promtool, tmp_path):
    result = _run_unit_tests(promtool, SUMMARY_TESTS, _rules_without({"description"}), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _cases(tests_file: Path) -> list[dict[str, Any]]:
    return [case for test in yaml.safe_load(tests_file.read_text())["tests"] for case in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_firing_case_and_a_silent_case(alert):
    cases = [c for c in _cases(BEHAVIOUR_TESTS) if c["alertname"] == alert]
    assert any(c["exp_alerts"] for c in cases), f"{alert}: no unit test where it fires"
    assert any(not c["exp_alerts"] for c in cases), f"{alert}: no unit test where it stays silent"
    assert alert in {c["alertname"] for c in _cases(SUMMARY_TESTS)}, f"{alert}: summary not tested"


@pytest.mark.parametrize("mutation", [
    ("changes(seer_train_step[5m])) == 0", "changes(seer_train_step[5m])) >= 0"),
    ("> 3600", "> 7200"),
    (") >= 3", ") >= 4"),
    ("> 0.5", "> 0.3"),
    ("> 1.5 *", "> 1.2 *"),
    ("abs(seer_train_loss) == +Inf", "abs(seer_train_loss) == 0"),
    ("[30m])) > 0", "[30m])) > 1"),
    ("< max by (namespace, seer_job) (seer_operator_job_nodes_desired)", "< 0 * max by (namespace, seer_job) (seer_operator_job_nodes_desired)"),
], ids=lambda m: m[0][:40])
def test_unit_tests_catch_a_changed_threshold(promtool, tmp_path, mutation):
    text = _rules_without({"summary", "description"}, mutate=mutation)
    result = _run_unit_tests(promtool, BEHAVIOUR_TESTS, text, tmp_path)
    assert result.returncode != 0, f"the unit tests still pass with {mutation[0]!r} -> {mutation[1]!r}"


def test_the_issue_s_alerts_exist():
    assert REQUIRED_ALERTS <= set(ALERTS)


@pytest.mark.parametrize("rule", [r for r in _rules() if "alert" in r], ids=ALERTS)
def test_every_alert_has_severity_summary_and_a_runbook(rule):
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    assert "{{ $labels.seer_job }}" in annotations["summary"]
    assert "Runbook:" in annotations["description"] and "(1)" in annotations["description"]
    assert "by (namespace, seer_job)" in rule["expr"], "one alert per job, not per rank"
