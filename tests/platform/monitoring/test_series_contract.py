"""Every series that the dashboard and the alert rules query is defined by the trainer
(seer.trainer.metrics) or the operator (seer.operators.metrics): renaming a metric
without updating the queries fails here, not silently on a dashboard."""

from __future__ import annotations

import re

import pytest
import yaml

from seer.platform.monitoring import dashboard as dash

ALERTS_FILE = dash.repo_root() / "charts" / "seer" / "files" / "alerts.yaml"
_SERIES = re.compile(r"\bseer_[a-z0-9_]+\b")
#: Label names that also start with "seer_" (not series).
_LABELS = {"seer_job"}


def series_in(expr: str) -> set[str]:
    return set(_SERIES.findall(expr)) - _LABELS


def _alert_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load(ALERTS_FILE.read_text())
    return [(r["alert"], r["expr"]) for g in doc["groups"] for r in g["rules"]]


QUERIES = [(f"dashboard: {t}", e) for t, e in dash.panel_queries(dash.build_dashboard())] + [
    (f"alert: {a}", e) for a, e in _alert_exprs()
]


@pytest.mark.parametrize("where,expr", QUERIES, ids=[w for w, _ in QUERIES])
def test_every_queried_series_is_defined(defined_series, where, expr):
    names = series_in(expr)
    assert names, f"{where} queries no Seer series"
    unknown = names - defined_series["trainer"] - defined_series["operator"]
    assert not unknown, f"{where} queries undefined series {sorted(unknown)}"


def test_every_trainer_series_is_on_the_dashboard(defined_series):
    queried = set().union(*(series_in(e) for _, e in dash.panel_queries(dash.build_dashboard())))
    # _count/_created are implied by _bucket/_sum; the rest must have a panel.
    wanted = {n for n in defined_series["trainer"] if not n.endswith(("_created", "_count"))}
    histograms_by_bucket = {n.removesuffix("_bucket") for n in queried if n.endswith("_bucket")}
    missing = {
        n for n in wanted - queried if not (n.endswith("_sum") and n.removesuffix("_sum") in histograms_by_bucket)
    }
    assert not missing, f"trainer series without a panel: {sorted(missing)}"


def test_series_extraction_ignores_labels():
    assert series_in('sum by (seer_job) (rate(seer_train_images_total{seer_job=~"$seer_job"}[1m]))') == {
        "seer_train_images_total"
    }
