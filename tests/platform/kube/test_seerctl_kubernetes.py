"""`seerctl` end to end against the Kubernetes API emulator with the real operator running:
submit (dry run and real), status, list, logs, describe, cancel, delete, name uniqueness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("SEER_OPERATOR_RESYNC_SECONDS", "1")

import kopf.testing  # noqa: E402
import kube_emulator  # noqa: E402
import yaml  # noqa: E402
from polling import wait_until  # noqa: E402

from seer.platform.crd import build_crd  # noqa: E402
from seer.platform.spec import SeerJob  # noqa: E402

pytestmark = pytest.mark.services


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with kube_emulator.serve_in_thread([build_crd()]) as emu:
        monkeypatch.setenv("KUBECONFIG", str(emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="team-a")))
        monkeypatch.setenv("SEER_HOME", str(tmp_path / "home"))
        yield emu


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    doc = {
        "metadata": {"name": "kjob"},
        "spec": {
            "resources": {"nodes": {"min": 1, "max": 2}},
            "data": {"sources": ["s3://bucket/images/"]},
            "checkpoint": {"url": "s3://bucket/kjob"},
        },
    }
    f = tmp_path / "kjob.yaml"
    f.write_text(yaml.safe_dump(doc))
    return f


def seerctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run seerctl in a subprocess: KopfRunner (click's CliRunner) swaps sys.stdout
    process-wide while the operator runs, so in-process output would be swallowed."""
    result = subprocess.run(
        [sys.executable, "-m", "seer.platform.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    return result.returncode, result.stdout, result.stderr


def wait_for(predicate, timeout: float = 30.0):
    return wait_until(predicate, timeout, "the cluster", poll=0.1)


def test_dry_run_prints_the_seerjob_and_creates_nothing(cluster, job_file, capsys):
    code, out, _ = seerctl(capsys, "submit", str(job_file), "-s", "kubernetes", "--dry-run", "-o", "yaml")
    assert code == 0
    doc = yaml.safe_load(out)
    assert doc["kind"] == "SeerJob" and doc["metadata"]["namespace"] == "team-a"
    assert SeerJob.model_validate(doc).spec.resources.nodes.max == 2
    assert cluster.objects("seer.dev", "seerjobs") == []


def test_submit_status_list_logs_describe_cancel(cluster, job_file, capsys):
    with kopf.testing.KopfRunner(
        ["run", "--all-namespaces", "--standalone", "-m", "seer.operators.handlers"], timeout=30
    ):
        code, out, err = seerctl(capsys, "submit", str(job_file), "-s", "kubernetes")
        assert code == 0, err
        assert "submitted kjob to the kubernetes scheduler" in out
        # The hint reaches the job again from any shell: scheduler and namespace included.
        assert (
            "seerctl status kjob -s kubernetes -n team-a" in out
            and "seerctl logs kjob -f -s kubernetes -n team-a" in out
        )
        assert [o["metadata"]["name"] for o in cluster.objects("seer.dev", "seerjobs", "team-a")] == ["kjob"]

        # The operator creates the workers and reports what it wants.
        wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in cluster.objects("", "pods", "team-a")
                        if p["metadata"]["labels"].get("seer.dev/role") == "worker"
                    ]
                )
                == 2
            )
        )

        def status() -> dict:
            code, out, _ = seerctl(capsys, "status", "kjob", "-s", "kubernetes", "-o", "json")
            assert code == 0
            return json.loads(out)

        st = wait_for(lambda: (s := status())["nodes_desired"] == 2 and s)
        assert st["scheduler"] == "kubernetes" and st["phase"] in ("Pending", "Running") and st["namespace"] == "team-a"

        # A second submit of a live name is refused.
        code, _, err = seerctl(capsys, "submit", str(job_file), "-s", "kubernetes")
        assert code == 1 and "already" in err

        code, out, _ = seerctl(capsys, "list", "-s", "kubernetes", "-o", "json")
        assert [j["name"] for j in json.loads(out)] == ["kjob"]

        cluster.call(
            lambda: cluster.emulator.logs.__setitem__(
                ("team-a", "kjob-worker-0-0"), "step 1 loss 8.0\nstep 2 loss 7.5\n"
            )
        )
        code, out, _ = seerctl(capsys, "logs", "kjob", "-s", "kubernetes", "--rank", "0")
        assert out.splitlines() == ["step 1 loss 8.0", "step 2 loss 7.5"]
        code, out, _ = seerctl(capsys, "logs", "kjob", "-s", "kubernetes", "--rank", "0", "--tail", "1")
        assert code == 0 and out.splitlines() == ["step 2 loss 7.5"]
        code, out, err = seerctl(capsys, "logs", "kjob", "-s", "kubernetes", "--rank", "5")
        assert code == 1 and out == "" and "no worker pod for slot 5" in err

        code, out, _ = seerctl(capsys, "describe", "kjob", "-s", "kubernetes", "-o", "json")
        described = json.loads(out)
        assert described["resource"]["metadata"]["name"] == "kjob" and len(described["pods"]) == 2

        # delete refuses a running job: cancel first (or --force).
        code, _, err = seerctl(capsys, "delete", "kjob", "-s", "kubernetes")
        assert code == 1 and "cancel it first" in err and cluster.objects("seer.dev", "seerjobs", "team-a")

        # cancel = stop after a final checkpoint and KEEP the record: suspended, marked, status Cancelled.
        code, out, err = seerctl(capsys, "cancel", "kjob", "-s", "kubernetes")
        assert code == 0 and "cancelling SeerJob 'kjob'" in out, err
        (kept,) = cluster.objects("seer.dev", "seerjobs", "team-a")
        assert kept["spec"]["suspend"] is True and "seer.dev/cancelled-at" in kept["metadata"]["annotations"]
        wait_for(
            lambda: (
                not [
                    p
                    for p in cluster.objects("", "pods", "team-a")
                    if p["metadata"]["labels"].get("seer.dev/role") == "worker"
                ]
            )
        )
        st = wait_for(lambda: (s := status())["phase"] == "Cancelled" and s)
        assert st["reason"] == "Cancelled"
        code, out, _ = seerctl(capsys, "status", "kjob", "-s", "kubernetes")
        assert code == 0 and "Cancelled" in out

        # A cancelled job can be resubmitted with --resume (it continues from its checkpoints).
        code, _, err = seerctl(capsys, "submit", str(job_file), "-s", "kubernetes")
        assert code == 1 and "--resume" in err

        # delete forgets it.
        code, out, err = seerctl(capsys, "delete", "kjob", "-s", "kubernetes")
        assert code == 0 and "deleted SeerJob 'kjob'" in out, err
        wait_for(lambda: not cluster.objects("seer.dev", "seerjobs", "team-a"))
        wait_for(lambda: not cluster.objects("", "pods", "team-a"))


def test_list_all_namespaces_shows_the_namespace_column(cluster, job_file, capsys):
    for namespace in ("team-a", "team-b"):
        code, _, err = seerctl(capsys, "submit", str(job_file), "-s", "kubernetes", "-n", namespace)
        assert code == 0, err
    code, out, _ = seerctl(capsys, "list", "-s", "kubernetes", "-o", "json")
    assert [j["namespace"] for j in json.loads(out)] == ["team-a"]
    code, out, _ = seerctl(capsys, "list", "-s", "kubernetes", "-A", "-o", "json")
    assert sorted(j["namespace"] for j in json.loads(out)) == ["team-a", "team-b"]
    code, out, _ = seerctl(capsys, "list", "-s", "kubernetes", "-A")
    assert code == 0 and "NAMESPACE" in out and "team-b" in out
    code, _, err = seerctl(capsys, "list", "-s", "local", "-A")
    assert code == 2 and "-s kubernetes" in err


def test_status_of_an_unknown_job_is_a_clear_error(cluster, capsys):
    code, _, err = seerctl(capsys, "status", "ghost", "-s", "kubernetes")
    assert code == 1 and "no SeerJob 'ghost' in namespace 'team-a'" in err


def test_the_configured_default_scheduler_is_used(cluster, job_file, capsys, tmp_path):
    home = Path(os.environ["SEER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("scheduler: kubernetes\nnamespace: team-b\n")
    code, out, _ = seerctl(capsys, "submit", str(job_file), "--dry-run", "-o", "yaml")
    assert code == 0 and yaml.safe_load(out)["metadata"]["namespace"] == "team-b"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"data": {"sources": ["s3://b/i/"]}}, "spec.checkpoint.url is required on Kubernetes"),
        ({"data": {"sources": ["./data/images"]}, "checkpoint": {"url": "s3://b/c"}}, "are local paths"),
    ],
)
def test_a_job_that_cannot_run_on_a_cluster_is_refused_before_anything_is_created(
    cluster, tmp_path, capsys, spec, message
):
    f = tmp_path / "local.yaml"
    f.write_text(yaml.safe_dump({"metadata": {"name": "local-only"}, "spec": spec}))
    code, _, err = seerctl(capsys, "submit", str(f), "-s", "kubernetes")
    assert code == 1 and message in err
    assert cluster.objects("seer.dev", "seerjobs") == []
