"""Install profiles: `pip install seer-platform` (what the worker and operator image installs)
carries no torchx and no urllib3<1.27 pin; `seer-platform[torchx]` adds them for local runs and
`torchx run`; seerctl says in one line when a verb needs TorchX and it is missing
(docs/architecture.md, "Dependency pins")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml
from import_blocker import blocking_prelude
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
FIXED_URLLIB3 = Version("2.5.0")  # CVE-2025-50181 is fixed from 2.5.0; the 1.26 line gets no fixes

# seerctl in a fresh interpreter in which `import torchx` fails, as on an install without the extra.
WITHOUT_TORCHX = blocking_prelude("torchx") + textwrap.dedent(
    """
    from seer.platform.cli import main

    sys.exit(main(sys.argv[1:]))
    """
)


def seerctl_without_torchx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCHX, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SEER_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    doc = {
        "metadata": {"name": "no-torchx"},
        "spec": {"data": {"sources": ["s3://bucket/images/"]}, "checkpoint": {"url": "s3://bucket/ckpt/"}},
    }
    f = tmp_path / "job.yaml"
    f.write_text(yaml.safe_dump(doc))
    return f


@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_a_local_submit_without_torchx_says_how_to_install_it_and_writes_nothing(tmp_path, job_file, extra):
    out = seerctl_without_torchx(tmp_path, "submit", str(job_file), "-s", "local", *extra)
    assert out.returncode == 1, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert "pip install 'seer-platform[torchx]'" in out.stderr
    assert not (tmp_path / "home" / "runs" / "no-torchx").exists()


def test_the_cluster_path_needs_no_torchx(tmp_path, job_file):
    out = seerctl_without_torchx(
        tmp_path, "submit", str(job_file), "-s", "kubernetes", "-n", "team-a", "--dry-run", "-o", "json"
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metadata"] == {"name": "no-torchx", "namespace": "team-a", "labels": {}}


def _requirements() -> tuple[list[Requirement], dict[str, list[Requirement]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {name: [Requirement(r) for r in reqs] for name, reqs in project["optional-dependencies"].items()}
    return [Requirement(r) for r in project["dependencies"]], extras


def test_torchx_and_its_urllib3_pin_live_only_in_the_torchx_extra_which_the_test_extra_pulls_in():
    base, extras = _requirements()
    names = {r.name for r in base}
    assert "torchx" not in names
    assert all(r.specifier.contains(FIXED_URLLIB3) for r in base if r.name == "urllib3")
    assert {str(r) for r in extras["torchx"]} == {"torchx==0.7.0", "urllib3<1.27"}
    assert any(r.name == "seer-platform" and r.extras == {"torchx"} for r in extras["test"])


def _resolve(target: str, report: Path) -> dict[str, str]:
    """What pip would install for ``target`` into an empty environment (a dry run, no install)."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed"]
        + ["--report", str(report), "-c", str(ROOT / "constraints" / "ci.txt"), target],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    installs = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installs}


@pytest.mark.slow
def test_a_plain_install_resolves_without_torchx_and_with_a_fixed_urllib3(tmp_path):
    resolved = _resolve(".", tmp_path / "base.json")
    assert "torchx" not in resolved
    assert Version(resolved["urllib3"]) >= FIXED_URLLIB3
    assert resolved["kubernetes"] == "33.1.0" and "kopf" in resolved  # the operator's client stays


@pytest.mark.slow
def test_the_torchx_extra_brings_torchx_with_its_pin(tmp_path):
    resolved = _resolve(".[torchx]", tmp_path / "torchx.json")
    assert resolved["torchx"] == "0.7.0" and Version(resolved["urllib3"]) < Version("1.27")
