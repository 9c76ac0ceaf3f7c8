"""Fixtures of the monitoring tests: promtool and the series the Seer processes define."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_server import promtool  # noqa: F401  (a fixture, shared with tests/charts)

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "summary": ("_sum", "_count", "_created"),
}


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name a registry can expose (a counter `x` exposes `x_total`, ...)."""
    return {family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]}


@pytest.fixture(scope="session")
def defined_series() -> dict[str, set[str]]:
    """{"trainer": names, "operator": names} from seer.trainer.metrics and seer.operators.metrics."""
    from seer.operators.metrics import OperatorMetrics
    from seer.trainer.metrics import TrainerMetrics

    return {
        "trainer": exposed_names(TrainerMetrics.create(job="contract", rank=0).registry),
        "operator": exposed_names(OperatorMetrics().registry),
    }
