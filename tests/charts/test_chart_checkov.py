"""checkov's Kubernetes checks on the rendered chart and on the pods the operator builds
(issue 12, item 17): the checks that fail are exactly the ones charts/seer/README.md
documents, for the chart with the defaults and with the hardening switches on
(NetworkPolicy, image by digest), and for the worker pod, rendezvous pod and Service. A
new failure, or a documented one that no longer fails, breaks this test until the
README's table says why.

checkov is not a dependency of Seer (it pulls in hundreds of packages): CI installs it in
a virtualenv of its own and puts it on PATH, or names it in SEER_CHECKOV."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from seer_chart_support import CHART, objects, render_files

README = CHART / "README.md"
HARDENED = yaml.safe_load((CHART / "ci" / "networkpolicy-values.yaml").read_text())


@pytest.fixture(scope="module")
def checkov() -> str:
    path = os.environ.get("SEER_CHECKOV") or shutil.which("checkov")
    if path is None:
        pytest.fail(
            "checkov not found: `python3 -m venv /opt/checkov && /opt/checkov/bin/pip install checkov`, "
            "then put /opt/checkov/bin on PATH or set SEER_CHECKOV=/opt/checkov/bin/checkov"
        )
    return path


def _table(name: str) -> str:
    text = README.read_text()
    return text[text.index(f"<!-- {name}:begin") : text.index(f"<!-- {name}:end")]


def documented() -> dict[str, str]:
    """Check ID -> "defaults" or "always", from the README's table for the chart."""
    table = _table("checkov")
    rows = re.findall(r"^\| (CKV\w+) \| (defaults|always) \|", table, flags=re.MULTILINE)
    assert rows, "the README's checkov table is empty"
    return dict(rows)


def failed_checks(checkov: str, manifests: list[dict[str, Any]], tmp_path: Path) -> set[str]:
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    result = subprocess.run(
        [checkov, "-f", str(path), "--framework", "kubernetes", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0 and summary["passed"] > 50, summary
    return {c["check_id"] for r in reports for c in r["results"]["failed_checks"]}


@pytest.mark.slow
def test_with_the_defaults_exactly_the_documented_checks_fail(chart, checkov, tmp_path):
    failed = failed_checks(checkov, objects(render_files(chart, {})), tmp_path)
    assert failed == set(documented())


@pytest.mark.slow
def test_with_network_policy_and_digest_only_the_always_checks_fail(chart, checkov, tmp_path):
    failed = failed_checks(checkov, objects(render_files(chart, HARDENED)), tmp_path)
    assert failed == {check for check, when in documented().items() if when == "always"}


@pytest.mark.slow
def test_the_operators_pods_fail_only_the_documented_checks(checkov, tmp_path):
    from seer.operators import children
    from seer.platform.loading import parse_job

    job = parse_job(
        "metadata: {name: demo, namespace: ml}\n"
        "spec:\n  checkpoint: {url: 's3://bucket/ckpt'}\n  storage: {secretName: creds}\n"
        "  resources: {procsPerNode: 2}\n"
    )
    manifests = [
        children.worker_pod(job, "uid", 0, 0),
        children.rendezvous_pod(job, "uid"),
        children.rendezvous_service(job, "uid"),
    ]
    documented_ids = set(re.findall(r"^\| (CKV\w+) \|", _table("checkov-operator"), flags=re.MULTILINE))
    assert documented_ids, "the README's table of the operator's pods is empty"
    assert failed_checks(checkov, manifests, tmp_path) == documented_ids
