"""`helm lint --strict` passes for the defaults and every ci/ scenario, on the oldest and
newest Kubernetes versions the chart supports."""

from __future__ import annotations

import helm_python
import pytest
from seer_chart_support import CHART, KUBE_VERSIONS, NAMESPACE, SCENARIO_IDS, SCENARIOS

INFO = 1  # helm_python severities: 0 unknown, 1 info, 2 warning, 3 error


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name,values", SCENARIOS, ids=SCENARIO_IDS)
def test_strict_lint_reports_no_warning_or_error(name, values, kube_version):
    report = helm_python.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version=f"v{kube_version}")
    problems = [m for m in report["messages"] if m["severity"] > INFO]
    assert report["errors"] == [] and problems == [], report


def test_oldest_validated_version_is_the_charts_minimum_kubernetes_version(chart):
    # Chart.yaml's kubeVersion and the versions the tests validate against must agree.
    assert chart.metadata["kubeVersion"] == f">={KUBE_VERSIONS[0]}-0"
