"""A real Prometheus (Debian's 2.42) scrapes two SIMULATED exporters on 127.0.0.1 with a
1 s interval: ``simulated_training_loop`` is a thread that drives ``TrainerMetrics`` the
way the training loop does (no model, no data), ``simulated_operator`` one that drives
``OperatorMetrics``. Through Prometheus' HTTP API the trainer's series exist and move,
every dashboard query is valid PromQL and returns data, and every alert rule evaluates
without error.

What this does not show: a real trainer's exposition (that is
``test_prometheus_real_job.py``) and alert timing — most rules hold for 1 to 15 minutes,
far longer than this module runs; silence and firing over time are checked with
promtool in ``tests/charts/test_alert_timing.py``.

Timing never decides the outcome: every wait polls for a condition up to a generous
deadline, and the assertions are about what Prometheus returns.
"""

from __future__ import annotations

import itertools
import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import start_http_server
from prometheus_server import Prometheus, running_prometheus

from seer.platform.monitoring import dashboard as dash

pytestmark = [pytest.mark.services, pytest.mark.slow]

JOB = "live-quickstart"
NAMESPACE = "ml"
ALERTS_FILE = dash.repo_root() / "charts" / "seer" / "files" / "alerts.yaml"


@dataclass
class Target:
    address: str  # host:port of a /metrics endpoint
    stop: Callable[[], None]


def _serve(registry) -> tuple[str, Callable[[], None]]:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    return f"127.0.0.1:{server.server_address[1]}", lambda: (server.shutdown(), server.server_close(), thread.join(5))


@contextmanager
def _driven_exporter(registry, tick: Callable[[], None], period_s: float, thread_name: str) -> Iterator[Target]:
    """Serve ``registry`` while a thread calls ``tick()`` every ``period_s`` seconds; stop both on exit."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(period_s):
            tick()

    thread = threading.Thread(target=loop, name=thread_name, daemon=True)
    thread.start()
    address, stop_server = _serve(registry)
    try:
        yield Target(address, stop_server)
    finally:
        done.set()
        thread.join(5)
        stop_server()


@pytest.fixture(scope="module")
def simulated_training_loop() -> Iterator[Target]:
    """A worker's exporter driven by a thread (no training): every 50 ms a "step", every 20 a "checkpoint"."""
    from seer.trainer.metrics import TrainerMetrics

    m = TrainerMetrics.create(job=JOB, rank=0)
    steps = itertools.count(1)

    def step_once() -> None:
        step = next(steps)
        m.step_duration.observe(0.05)
        m.images.inc(32)
        m.steps.inc()
        m.step.set(step)
        m.epoch.set(step // 100)
        m.loss.set(4.0 * math.exp(-step / 500) + 1.0)
        m.learning_rate.set(min(1.0, step / 100) * 0.6)
        m.data_wait.inc(0.005)
        m.mfu.set(0.25)
        if step % 20 == 0:
            m.checkpoint_duration.observe(0.3)
            m.checkpoint_blocked.observe(0.02)
            m.checkpoint_last_success.set(time.time())
            m.checkpoint_last_step.set(step)

    with _driven_exporter(m.registry, step_once, 0.05, "simulated-training-loop") as target:
        yield target


@pytest.fixture(scope="module")
def simulated_operator() -> Iterator[Target]:
    """The operator's exporter driven by a thread (no reconciles), reporting one running job (as after a reconcile)."""
    from seer.operators.metrics import OperatorMetrics

    m = OperatorMetrics()
    m.observe_job(NAMESPACE, JOB, "Running", ready=1, desired=1, restarts=0)

    def reconcile_once() -> None:
        m.reconciles.labels(result="success").inc()
        m.duration.observe(0.01)

    with _driven_exporter(m.registry, reconcile_once, 0.2, "simulated-operator") as target:
        yield target


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, simulated_training_loop: Target, simulated_operator: Target) -> Iterator[Prometheus]:
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    shutil.copy(ALERTS_FILE, workdir / "alerts.yaml")
    scrape_configs = [
        {
            "job_name": "seer-trainer",
            "static_configs": [{"targets": [simulated_training_loop.address], "labels": {"namespace": NAMESPACE}}],
        },
        # honor_labels as in the chart's ServiceMonitor: the per-job `namespace` label wins.
        {
            "job_name": "seer-operator",
            "honor_labels": True,
            "static_configs": [{"targets": [simulated_operator.address]}],
        },
    ]
    with running_prometheus(workdir, scrape_configs, rule_files=["alerts.yaml"]) as server:
        yield server


def _value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_both_targets_are_up(prometheus: Prometheus):
    prometheus.wait_for("both targets up", lambda: len(prometheus.query("up == 1")) == 2)
    assert {r["metric"]["job"] for r in prometheus.query("up == 1")} == {"seer-trainer", "seer-operator"}


def test_every_trainer_series_exists_with_job_and_rank_labels(prometheus: Prometheus, defined_series):
    names = sorted(n for n in defined_series["trainer"] if not n.endswith("_created"))
    prometheus.wait_for("the first scrape", lambda: bool(prometheus.query("seer_train_step")))
    for name in names:
        result = prometheus.query(name)
        assert result, f"{name} is not in Prometheus"
        assert {(r["metric"]["seer_job"], r["metric"]["rank"]) for r in result} == {(JOB, "0")}, name


def test_images_counter_increases_between_scrapes(prometheus: Prometheus):
    prometheus.wait_for(
        "a first images sample", lambda: bool(prometheus.query(f'seer_train_images_total{{seer_job="{JOB}"}}'))
    )
    first = _value(prometheus.query(f'seer_train_images_total{{seer_job="{JOB}"}}'))
    prometheus.wait_for(
        "a larger images count",
        lambda: _value(prometheus.query(f'seer_train_images_total{{seer_job="{JOB}"}}')) > first,
    )
    prometheus.wait_for(
        "a positive images rate",
        lambda: any(
            float(r["value"][1]) > 0
            for r in prometheus.query(f'rate(seer_train_images_total{{seer_job="{JOB}"}}[30s])')
        ),
    )


def test_step_time_histogram_fills_and_yields_quantiles(prometheus: Prometheus):
    count = f'seer_train_step_duration_seconds_count{{seer_job="{JOB}"}}'
    prometheus.wait_for(
        "step-time observations", lambda: bool(prometheus.query(count)) and _value(prometheus.query(count)) > 0
    )
    buckets = prometheus.query(f'seer_train_step_duration_seconds_bucket{{seer_job="{JOB}"}}')
    by_le = {r["metric"]["le"]: float(r["value"][1]) for r in buckets}
    assert by_le["+Inf"] > 0
    assert by_le["0.025"] == 0 and by_le["0.05"] == by_le["+Inf"]  # every step observed 50 ms
    p50 = (
        f'histogram_quantile(0.5, sum by (le) (rate(seer_train_step_duration_seconds_bucket{{seer_job="{JOB}"}}[30s])))'
    )
    prometheus.wait_for(
        "a finite median step time", lambda: any(math.isfinite(float(r["value"][1])) for r in prometheus.query(p50))
    )
    median = _value(prometheus.query(p50))
    assert 0.025 < median <= 0.05


def test_job_selector_variable_lists_the_live_job(prometheus: Prometheus):
    metric, label = "seer_train_step", "seer_job"
    selector = f'{metric}{{namespace=~"${dash.NAMESPACE_VARIABLE}"}}'
    assert dash.JOB_VARIABLE_QUERY == f"label_values({selector}, {label})"
    match = dash.instantiate(selector)  # "All" namespaces; a local series has no namespace label
    prometheus.wait_for(
        "the job label", lambda: JOB in prometheus.get(f"/api/v1/label/{label}/values", **{"match[]": match})
    )


@pytest.mark.parametrize("title,expr", dash.panel_queries(dash.build_dashboard()))
def test_every_dashboard_query_is_valid_promql_and_returns_data(prometheus: Prometheus, title: str, expr: str):
    promql = dash.instantiate(expr, seer_job=JOB, rate_interval="30s")
    ok, result = prometheus.try_query(promql)
    assert ok, f"{title}: invalid PromQL {promql!r}: {result}"
    prometheus.wait_for(f"data for panel {title!r} ({promql})", lambda: bool(prometheus.query(promql)))
    for sample in prometheus.query(promql):
        assert sample["metric"].get("seer_job", JOB) == JOB, f"{title} leaks other jobs: {sample}"


def test_a_query_for_another_job_returns_nothing(prometheus: Prometheus):
    expr = dict(dash.panel_queries(dash.build_dashboard()))["Images per second"]
    prometheus.wait_for(
        "data", lambda: bool(prometheus.query(dash.instantiate(expr, seer_job=JOB, rate_interval="30s")))
    )
    assert prometheus.query(dash.instantiate(expr, seer_job="some-other-job", rate_interval="30s")) == []


def test_alert_rules_load_and_evaluate_without_errors(prometheus: Prometheus):
    expected = {r["alert"] for g in yaml.safe_load(ALERTS_FILE.read_text())["groups"] for r in g["rules"]}

    def evaluated() -> bool:
        rules = [r for g in prometheus.get("/api/v1/rules")["groups"] for r in g["rules"]]
        # health is "unknown" until a rule's first evaluation, "err" if it failed.
        errors = {r["name"]: r.get("lastError") for r in rules if r["health"] == "err"}
        assert not errors, f"alert rules fail to evaluate: {errors}"
        return {r["name"] for r in rules} == expected and all(r["health"] == "ok" for r in rules)

    prometheus.wait_for("every rule evaluated with health ok", evaluated)
    prometheus.wait_for(
        "some training progress",
        lambda: bool(prometheus.query(f'changes(seer_train_step{{seer_job="{JOB}"}}[30s]) > 0')),
    )
    # Only the rules without a `for:` could fire within this module's seconds; whether a
    # healthy job stays silent over time is tests/charts/test_alert_timing.py's question.
    firing = [a for a in prometheus.get("/api/v1/alerts")["alerts"] if a["state"] == "firing"]
    assert firing == []
