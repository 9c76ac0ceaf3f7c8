"""No credentials inside a URL are printed or stored by a local run (issue 12 item 7, the rest).

The spec refuses ``scheme://user:password@host`` URLs, but one can still arrive by another
road: an exception text in an exit record, a run directory written by an older version, a
log line. ``seerctl status``, ``describe`` and ``logs`` print it with its userinfo
redacted, and ``state.json`` and exit records never store it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from seerctl_runner import run_seerctl

from seer.platform.runs import RunDir, RunState, write_json_atomic

SECRET = "s3://AKIAEXAMPLE:wJalrXUtnFEMIsecret@bucket/ckpt/step-3"
SHOWN = "s3://***@bucket/ckpt/step-3"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SEER_HOME": str(tmp_path / "home"), "COLUMNS": "250"}


@pytest.fixture
def leaky_run(env: dict[str, str]) -> RunDir:
    """A finished local run whose records carry a credentialed URL (written raw, as an older
    version or a crash message would have left them)."""
    run = RunDir(Path(env["SEER_HOME"]) / "runs" / "leaky")
    run.logs.mkdir(parents=True)
    run.job_file.write_text(
        yaml.safe_dump({"metadata": {"name": "leaky"}, "spec": {"data": {"sources": ["/data/train"]}}})
    )
    state = RunState(name="leaky", phase="Failed", reason="ApplicationError", message=f"rank 0: cannot write {SECRET}")
    state.restart_reasons = [f"Signaled at {SECRET}"]
    write_json_atomic(run.state_file, vars(state))
    run.events_file.write_text(json.dumps({"type": "checkpoint", "step": 3, "time": 1.0, "url": SECRET}) + "\n")
    run.rank_log(0).write_text(f"ERROR saving to {SECRET} failed\n")
    return run


def seerctl(env: dict[str, str], *args: str) -> str:
    out = run_seerctl(env, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("status", "leaky"),
        ("status", "leaky", "-o", "json"),
        ("describe", "leaky"),
        ("describe", "leaky", "-o", "json"),
        ("logs", "leaky", "--rank", "0"),
        ("list", "-o", "json"),
    ],
)
def test_seerctl_prints_no_url_credentials(args: tuple[str, ...], env: dict[str, str], leaky_run: RunDir):
    printed = seerctl(env, *args)
    assert "wJalrXUtnFEMIsecret" not in printed and "AKIAEXAMPLE" not in printed, printed
    if args[0] != "list":
        assert SHOWN in printed, printed


def test_state_json_never_stores_url_credentials(tmp_path: Path):
    run = RunDir(tmp_path / "run")
    run.write_state(RunState(name="run", message=f"could not read {SECRET}", restart_reasons=[SECRET]))
    run.update_state(reason="ApplicationError")
    stored = run.state_file.read_text()
    assert "wJalrXUtnFEMIsecret" not in stored and SHOWN in stored


def test_exit_records_never_store_url_credentials(tmp_path: Path):
    from seer.trainer.reporting import record_exit
    from seer.trainer.runtime import Runtime

    runtime = Runtime(rank=0, local_rank=0, world_size=1, run_dir=tmp_path, restart_count=0, attempt=1)
    record_exit(runtime, 1, f"OSError: cannot write {SECRET}")
    stored = (tmp_path / "exits" / "attempt-1" / "rank-0.json").read_text()
    assert "wJalrXUtnFEMIsecret" not in stored and SHOWN in stored
