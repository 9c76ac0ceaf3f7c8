"""Alert silence and firing, with time under control: ``promtool test rules`` on series
long enough to cover every ``for:`` in charts/seer/files/alerts.yaml.

- A healthy two-rank job (steps advancing, a noisy but falling loss, 10 % data wait,
  a checkpoint every 10 minutes, no failures or restarts, all nodes ready) fires no
  alert at any minute of 90 minutes of input.
- Each failure, injected into that same job, makes its alert's condition true at a
  known minute ``onset`` (checked on a copy of the rules with ``for: 0m``: silent a
  minute before, active at ``onset``); with the real rules the alert is still silent at
  ``onset + for - 1m`` and fires at ``onset + for``. The ``for:`` values are read from
  the rules file, so changing one changes what this test expects.

promtool is Debian's Prometheus 2.42: a range ``[5m]`` at minute t holds the samples of
minutes t-5..t (both ends), which is what the onsets below count with.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from seer_chart_support import ALERTS_FILE

MINUTES = 90  #: samples at minutes 0..MINUTES
RANKS = (0, 1)
LABELS = 'namespace="ml",seer_job="j"'


def _rules() -> dict[str, Any]:
    doc = yaml.safe_load(ALERTS_FILE.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # promtool would compare them verbatim
    return doc


ALERT_FOR = {
    rule["alert"]: int(str(rule.get("for", "0m")).removesuffix("m") or 0)
    for group in _rules()["groups"]
    for rule in group["rules"]
    if "alert" in rule
}


def _series(values: Callable[[int], float | None]) -> str:
    """promtool's expanded notation: one value per minute, ``_`` for no sample."""

    def fmt(v: float | None) -> str:
        if v is None:
            return "_"
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Inf" if v > 0 else "-Inf"
        return repr(round(v, 6))

    return " ".join(fmt(values(i)) for i in range(MINUTES + 1))


def healthy() -> dict[str, Callable[[int], float | None]]:
    """Per-minute values of every series a healthy job exports (per rank, unless noted)."""
    return {
        "seer_train_step": lambda i: 10.0 * i,
        # Falls from 8 towards 5.3 with +-0.3 of step-to-step noise, as SwAV losses do.
        "seer_train_loss": lambda i: 8 - 0.03 * i + 0.3 * math.sin(1.7 * i),
        "seer_train_data_wait_seconds_total": lambda i: 6.0 * i,
        "seer_train_step_duration_seconds_sum": lambda i: 60.0 * i,
        # No checkpoint before minute 10 (the gauge's initial 0), then one every 10 minutes.
        "seer_checkpoint_last_success_timestamp_seconds": lambda i: 600.0 * (i // 10),
        "seer_checkpoint_save_failures_total": lambda i: 0.0,
        "seer_train_restarts": lambda i: 0.0,
    }


def healthy_operator() -> dict[str, Callable[[int], float | None]]:
    """The operator's per-job series (one operator pod, no rank)."""
    return {
        "seer_operator_job_restarts": lambda i: 0.0,
        "seer_operator_job_nodes_ready": lambda i: 2.0,
        "seer_operator_job_nodes_desired": lambda i: 2.0,
    }


def input_series(
    trainer: dict[str, Callable[[int], float | None]],
    operator: dict[str, Callable[[int], float | None]],
    rank_override: dict[tuple[str, int], Callable[[int], float | None]] | None = None,
) -> list[dict[str, str]]:
    out = []
    for name, fn in trainer.items():
        for rank in RANKS:
            f = (rank_override or {}).get((name, rank), fn)
            out.append({"series": f'{name}{{{LABELS},rank="{rank}",pod="j-worker-{rank}"}}', "values": _series(f)})
    for name, fn in operator.items():
        out.append({"series": f'{name}{{{LABELS},pod="seer-operator-0"}}', "values": _series(fn)})
    return out


def _firing(alert: str) -> list[dict[str, Any]]:
    severity = next(r["labels"]["severity"] for g in _rules()["groups"] for r in g["rules"] if r.get("alert") == alert)
    return [{"exp_labels": {"severity": severity, "namespace": "ml", "seer_job": "j"}}]


def _with(base: dict[str, Callable[[int], float | None]], **changes: Callable[[int], float | None]):
    return {**base, **changes}


ONSET = 30

#: alert -> (trainer series, operator series, per-rank overrides, minute its condition first holds)
FAILURES: dict[str, tuple[Any, Any, Any, int]] = {
    # Both ranks stop stepping after minute 30: changes() over minutes t-5..t is 0 from t = 35.
    "SeerTrainingStalled": (
        _with(healthy(), seer_train_step=lambda i: 10.0 * min(i, ONSET)),
        healthy_operator(),
        None,
        ONSET + 5,
    ),
    # Rank 1's loss turns NaN at minute 30.
    "SeerLossNaN": (
        healthy(),
        healthy_operator(),
        {("seer_train_loss", 1): lambda i: float("nan") if i >= ONSET else 8 - 0.03 * i},
        ONSET,
    ),
    # The loss sits at 4, then jumps to 10 at minute 30: the 10-minute mean (11 samples)
    # exceeds 1.5 x 4 once 4 of them are 10, at minute 33.
    "SeerLossDiverging": (
        _with(healthy(), seer_train_loss=lambda i: 4.0 if i < ONSET else 10.0),
        healthy_operator(),
        None,
        ONSET + 3,
    ),
    # Data wait rises from 6 to 40 s per minute of step time at minute 31: over the 10
    # one-minute increments of a 10m window the share passes 0.5 with 8 of them, at minute 38.
    "SeerDataLoadingStarved": (
        _with(healthy(), seer_train_data_wait_seconds_total=lambda i: 6.0 * min(i, ONSET) + 40.0 * max(0, i - ONSET)),
        healthy_operator(),
        None,
        ONSET + 8,
    ),
    # The last checkpoint commits at minute 10 (t = 600 s): more than 3600 s old from minute 71.
    "SeerCheckpointStale": (
        _with(healthy(), seer_checkpoint_last_success_timestamp_seconds=lambda i: 600.0 if i >= 10 else 0.0),
        healthy_operator(),
        None,
        71,
    ),
    # One save fails at minute 30.
    "SeerCheckpointSaveFailing": (
        _with(healthy(), seer_checkpoint_save_failures_total=lambda i: 1.0 if i >= ONSET else 0.0),
        healthy_operator(),
        None,
        ONSET,
    ),
    # The operator replaces workers at minutes 30, 31 and 32: the third restart makes the storm.
    "SeerRestartStorm": (
        healthy(),
        _with(healthy_operator(), seer_operator_job_restarts=lambda i: float(min(3, max(0, i - ONSET + 1)))),
        None,
        ONSET + 2,
    ),
    # One of two nodes is lost at minute 30 and never comes back.
    "SeerJobNodesMissing": (
        healthy(),
        _with(healthy_operator(), seer_operator_job_nodes_ready=lambda i: 2.0 if i < ONSET else 1.0),
        None,
        ONSET,
    ),
}


def _promtool_test(promtool: str, tmp_path: Path, rules: dict[str, Any], tests: list[dict[str, Any]]) -> None:
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    doc = {"rule_files": ["alerts.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "timing_test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, width=100_000))
    result = subprocess.run(
        [promtool, "test", "rules", "timing_test.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_every_alert_is_covered():
    assert set(FAILURES) == set(ALERT_FOR), "every alert of the rules file needs a failure scenario here"
    # The input outlasts the latest firing time with room to spare.
    assert max(onset + ALERT_FOR[a] for a, (*_, onset) in FAILURES.items()) + 5 <= MINUTES


def test_a_healthy_job_fires_nothing_at_any_minute_of_ninety(promtool, tmp_path):
    cases = [
        {"eval_time": f"{t}m", "alertname": alert, "exp_alerts": []}
        for t in range(MINUTES + 1)
        for alert in sorted(ALERT_FOR)
    ]
    tests = [{"interval": "1m", "input_series": input_series(healthy(), healthy_operator()), "alert_rule_test": cases}]
    _promtool_test(promtool, tmp_path, _rules(), tests)


@pytest.mark.parametrize("alert", sorted(FAILURES))
def test_each_failure_fires_exactly_its_for_after_the_condition_holds(promtool, tmp_path, alert):
    trainer, operator, overrides, onset = FAILURES[alert]
    series = input_series(trainer, operator, overrides)
    wait = ALERT_FOR[alert]

    # The condition itself: a copy of the rules with for: 0m.
    instant = _rules()
    for group in instant["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0m"
    only_this = lambda t, firing: {  # noqa: E731
        "eval_time": f"{t}m",
        "alertname": alert,
        "exp_alerts": _firing(alert) if firing else [],
    }
    condition = [only_this(onset - 1, False), only_this(onset, True)]
    _promtool_test(
        promtool, tmp_path, instant, [{"interval": "1m", "input_series": series, "alert_rule_test": condition}]
    )

    # The real rule: pending for exactly `for`, then firing, and still firing 5 minutes later.
    real = [only_this(onset + wait - 1, False)] if wait else []
    real += [only_this(onset + wait, True), only_this(onset + wait + 5, True)]
    # No other alert joins in: the failure is specific.
    others = [
        {"eval_time": f"{onset + wait + 5}m", "alertname": other, "exp_alerts": []}
        for other in sorted(ALERT_FOR)
        if other != alert and (alert, other) not in SYMPTOMS_TOGETHER
    ]
    _promtool_test(
        promtool, tmp_path, _rules(), [{"interval": "1m", "input_series": series, "alert_rule_test": real + others}]
    )


#: Failures whose symptom legitimately trips a second alert.
SYMPTOMS_TOGETHER: set[tuple[str, str]] = set()
