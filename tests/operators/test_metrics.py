"""The operator's series keep the names the chart's dashboards and alerts query."""

from __future__ import annotations

from prometheus_client import generate_latest

from seer.operators.metrics import OperatorMetrics


def test_series_names_and_per_job_gauges_are_removed_with_the_job():
    m = OperatorMetrics()
    m.reconciles.labels(result="success").inc()
    m.restarts.labels(reason="eviction").inc()
    m.duration.observe(0.01)
    m.observe_job("ns", "a", "Running", 2, 3, 1)
    m.observe_job("ns", "b", "Running", 1, 1, 0)
    text = generate_latest(m.registry).decode()
    for name in (
        'seer_operator_reconciles_total{result="success"} 1.0',
        'seer_operator_restarts_total{reason="eviction"} 1.0',
        'seer_operator_jobs{phase="Running"} 2.0',
        "seer_operator_reconcile_duration_seconds_bucket",
        'seer_operator_job_nodes_ready{namespace="ns",seer_job="a"} 2.0',
        'seer_operator_job_nodes_desired{namespace="ns",seer_job="a"} 3.0',
        'seer_operator_job_restarts{namespace="ns",seer_job="a"} 1.0',
    ):
        assert name in text
    m.forget_job("ns", "a")
    text = generate_latest(m.registry).decode()
    assert 'seer_job="a"' not in text and 'seer_operator_jobs{phase="Running"} 1.0' in text
