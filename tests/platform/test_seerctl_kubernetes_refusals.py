"""``seerctl -s kubernetes`` refuses cleanly (issue 12 item 11): without a kubeconfig every
verb prints one line and exits non-zero, no traceback; ``--dry-run`` refuses exactly what
the real submit refuses, so a dry run never prints a resource the cluster would not get."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from seerctl_runner import run_seerctl

GOOD = {
    "metadata": {"name": "kjob"},
    "spec": {"data": {"sources": ["s3://bucket/train/"]}, "checkpoint": {"url": "s3://bucket/ckpt/kjob/"}},
}


@pytest.fixture
def no_cluster(tmp_path: Path) -> dict[str, str]:
    """An environment with no kubeconfig anywhere and not inside a cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "KUBERNETES_"))}
    env.update(HOME=str(tmp_path / "home"), SEER_HOME=str(tmp_path / "seer"), COLUMNS="200")
    return env


seerctl = run_seerctl


def job_file(tmp_path: Path, **spec: dict) -> Path:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    for section, values in spec.items():
        doc["spec"][section] = values
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    "verb", [["status", "kjob"], ["list"], ["cancel", "kjob"], ["logs", "kjob"], ["describe", "kjob"], ["submit"]]
)
def test_without_a_kubeconfig_every_verb_says_so_in_one_line(verb: list[str], tmp_path: Path, no_cluster):
    args = [*verb, str(job_file(tmp_path))] if verb == ["submit"] else verb
    out = seerctl(no_cluster, *args, "-s", "kubernetes")
    assert out.returncode in (1, 2), out
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "kubeconfig" in lines[0], out.stderr


@pytest.mark.parametrize(
    ("spec", "refusal"),
    [
        ({"checkpoint": {"url": ""}}, "spec.checkpoint.url is required on Kubernetes"),
        ({"data": {"sources": ["/data/train"]}}, "are local paths"),
    ],
)
def test_dry_run_refuses_what_the_real_submit_refuses(spec: dict, refusal: str, tmp_path: Path, no_cluster):
    path = str(job_file(tmp_path, **spec))
    real = seerctl(no_cluster, "submit", path, "-s", "kubernetes")
    dry = seerctl(no_cluster, "submit", path, "-s", "kubernetes", "--dry-run")
    assert real.returncode == 1 and refusal in real.stderr, real.stderr
    assert dry.returncode == real.returncode and dry.stderr == real.stderr, (dry, real)
    assert "apiVersion" not in dry.stdout, "a refused dry run prints no resource"


def test_dry_run_of_an_acceptable_job_prints_the_resource_without_a_cluster(tmp_path: Path, no_cluster):
    out = seerctl(no_cluster, "submit", str(job_file(tmp_path)), "-s", "kubernetes", "--dry-run")
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(out.stdout)
    assert doc["kind"] == "SeerJob" and doc["metadata"]["name"] == "kjob"
