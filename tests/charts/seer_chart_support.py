"""Helpers for rendering the Seer chart with real Helm (helm-python-sdk), offline.

Helm's home directories are redirected into a temporary folder *at import time*: the Go
library behind helm_python copies the environment when it is loaded, so setting the
variables inside a fixture would be too late. conftest.py imports this module first.
Only HELM_* variables are set (Helm reads them before XDG_*), so other tests'
XDG-based tools are left alone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

HELM_HOME = Path(tempfile.mkdtemp(prefix="seer-helm-home-"))
atexit.register(shutil.rmtree, HELM_HOME, ignore_errors=True)
for _var, _sub in (("HELM_CONFIG_HOME", "config"), ("HELM_CACHE_HOME", "cache"), ("HELM_DATA_HOME", "data")):
    os.environ[_var] = str(HELM_HOME / _sub)

import helm_python  # noqa: E402  (after the environment is redirected)
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "seer"
CRD_FILE = CHART / "crds" / "seerjobs.seer.dev.yaml"
ALERTS_FILE = CHART / "files" / "alerts.yaml"
DASHBOARD_FILE = CHART / "files" / "dashboards" / "seer-training.json"
RELEASE, NAMESPACE = "seer", "seer-system"
#: Oldest supported (Chart.yaml kubeVersion >=1.27) and newest that kubernetes-validate 1.37.0 ships.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
#: API groups of prometheus-operator's custom resources (not known to kubernetes-validate).
PROMETHEUS_OPERATOR_GROUP = "monitoring.coreos.com"


def _scenarios() -> list[tuple[str, dict[str, Any]]]:
    files = sorted((CHART / "ci").glob("*.yaml"))
    return [("defaults", {})] + [(p.stem, yaml.safe_load(p.read_text()) or {}) for p in files]


#: (id, values): the chart's defaults plus every scenario file under ci/.
SCENARIOS: list[tuple[str, dict[str, Any]]] = _scenarios()
SCENARIO_IDS = [name for name, _ in SCENARIOS]


def scenario(name: str) -> dict[str, Any]:
    return dict(SCENARIOS)[name]


Rendered = dict[str, list[dict[str, Any]]]  # template path -> objects


def render_files(chart: helm_python.Chart, values: dict[str, Any], namespace: str = NAMESPACE) -> Rendered:
    """Render like `helm install`: template file -> the objects it produced (NOTES.txt left out)."""
    manifests = chart.render(values, name=RELEASE, namespace=namespace, is_install=True)
    return {
        path: [d for d in yaml.safe_load_all(text) if d]
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt")
    }


def render_notes(chart: helm_python.Chart, values: dict[str, Any], namespace: str = NAMESPACE) -> str:
    manifests = chart.render(values, name=RELEASE, namespace=namespace, is_install=True)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def objects(rendered: Rendered) -> list[dict[str, Any]]:
    return [obj for docs in rendered.values() for obj in docs]


def find(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = find(objs, kind)
    assert len(found) == 1, f"expected exactly one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def crd_objects() -> list[dict[str, Any]]:
    """The chart's CRDs as Helm loads them (chart.crds); the CRD file must exist."""
    assert CRD_FILE.exists(), f"{CRD_FILE} is missing: generate it with `python -m seer.platform.crd --write`"
    with helm_python.Chart.load(CHART) as chart:
        return [d for crd in chart.crds for d in yaml.safe_load_all(crd["data"]) if d]
