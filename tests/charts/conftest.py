"""Fixtures of the chart tests; seer_chart_support redirects Helm's home directories first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import seer_chart_support as support  # must come before helm_python is used

# isort: split
import helm_python
import pytest
import yaml
from prometheus_server import promtool  # noqa: F401  (a fixture, shared with tests/platform/monitoring)


@pytest.fixture(scope="session")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(support.CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm_python.Chart) -> Callable[..., list[dict[str, Any]]]:
    """render(values, namespace=...) -> the rendered objects, cached per arguments."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def _render(values: dict[str, Any], namespace: str = support.NAMESPACE) -> list[dict[str, Any]]:
        key = yaml.safe_dump([values, namespace], sort_keys=True)
        if key not in cache:
            cache[key] = support.objects(support.render_files(chart, values, namespace))
        return cache[key]

    return _render
