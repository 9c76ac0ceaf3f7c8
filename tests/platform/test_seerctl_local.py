"""`seerctl` on the local scheduler, end to end with a tiny real job (2 processes):
submit --wait, status, list, logs, describe, plot, name uniqueness, --resume/--fresh,
cancel; and every verb's --help."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from seerctl_runner import run_seerctl
from tiny_jobs import tiny_spec

from seer.platform.cli import build_parser

TINY = {
    "metadata": {"name": "tiny"},
    "spec": tiny_spec(
        optim={"epochs": 1, "warmupEpochs": 0, "maxSteps": 6},
        data={"batchSize": 8, "loaderWorkers": 0},
        checkpoint={"intervalSteps": 3, "keepLast": 2},
        resources={"procsPerNode": 2, "device": "cpu"},
        training={"precision": "fp32", "logEverySteps": 2},
        restart={"maxRestarts": 0, "backoffSeconds": 0.1},
        metrics={"port": 0},
    ),
}


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seer.trainer.data import materialize_digits

    root = tmp_path_factory.mktemp("digits")
    materialize_digits(str(root), size=16)
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SEER_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def write_job(tmp_path: Path, digits: Path, **spec_updates) -> Path:
    doc = json.loads(json.dumps(TINY))
    doc["spec"]["data"]["sources"] = [str(digits / "train")]
    for section, values in spec_updates.items():
        doc["spec"].setdefault(section, {}).update(values)
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(doc))
    return f


def seerctl(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``seerctl ARGS``; the longer default timeout covers a real ``submit --wait``."""
    return run_seerctl(env, *args, timeout=timeout)


@pytest.mark.slow
def test_submit_wait_then_inspect_a_finished_job(tmp_path: Path, digits: Path, env: dict[str, str]):
    job = write_job(tmp_path, digits)
    done = seerctl(env, "submit", str(job), "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tiny Succeeded" in done.stdout

    st = json.loads(seerctl(env, "status", "tiny", "-o", "json").stdout)
    assert st["phase"] == "Succeeded" and st["step"] == 6 and st["total_steps"] == 6
    assert st["last_checkpoint_step"] == 6 and st["restarts"] == 0 and st["start_time"]

    listed = json.loads(seerctl(env, "list", "-o", "json").stdout)
    assert [j["name"] for j in listed] == ["tiny"]

    rank1 = seerctl(env, "logs", "tiny", "--rank", "1").stdout
    assert "[rank 1]" in rank1 and "exit 0" in rank1
    assert "step 6/6" in seerctl(env, "logs", "tiny").stdout

    described = yaml.safe_load(seerctl(env, "describe", "tiny").stdout)
    assert described["job"]["metadata"]["name"] == "tiny" and "seer.trainer" in described["command"]

    png = tmp_path / "tiny.png"
    assert seerctl(env, "plot", "tiny", str(png)).returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A finished name is refused unless the user says what they want.
    again = seerctl(env, "submit", str(job))
    assert again.returncode == 1 and "--resume" in again.stderr and "--fresh" in again.stderr
    fresh = seerctl(env, "submit", str(job), "--fresh", "--wait")
    assert fresh.returncode == 0, fresh.stderr
    archived = list((Path(env["SEER_HOME"]) / "runs" / ".archive").iterdir())
    assert len(archived) == 1 and (archived[0] / "checkpoints").exists()


@pytest.mark.slow
def test_a_running_name_is_refused_and_cancel_checkpoints_and_stops(tmp_path: Path, digits: Path, env: dict[str, str]):
    job = write_job(tmp_path, digits, optim={"maxSteps": 10_000, "epochs": 100}, checkpoint={"intervalSteps": 1000})
    assert seerctl(env, "submit", str(job)).returncode == 0
    deadline = time.monotonic() + 120
    while (json.loads(seerctl(env, "status", "tiny", "-o", "json").stdout).get("step") or 0) < 2:
        assert time.monotonic() < deadline, "the job never logged a step"
        time.sleep(0.5)
    refused = seerctl(env, "submit", str(job))
    assert refused.returncode == 1 and "already running" in refused.stderr

    assert seerctl(env, "cancel", "tiny").returncode == 0
    deadline = time.monotonic() + 120
    while (st := json.loads(seerctl(env, "status", "tiny", "-o", "json").stdout))["phase"] not in (
        "Cancelled",
        "Failed",
        "Succeeded",
    ):
        assert time.monotonic() < deadline, st
        time.sleep(0.5)
    assert st["phase"] == "Cancelled"
    assert st["last_checkpoint_step"] is not None and st["last_checkpoint_step"] >= st["step"], (
        "cancel writes a final checkpoint"
    )

    # --resume continues from that checkpoint.
    resumed = seerctl(
        env,
        "submit",
        str(write_job(tmp_path, digits, optim={"maxSteps": st["step"] + 2, "epochs": 100})),
        "--resume",
        "--wait",
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = [
        json.loads(line)
        for line in (Path(env["SEER_HOME"]) / "runs" / "tiny" / "events.jsonl").read_text().splitlines()
    ]
    starts = [e for e in events if e["type"] == "start"]
    assert starts[-1]["resumed_from"] == st["last_checkpoint_step"]


def test_every_verb_has_complete_help():
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(verbs) >= {
        "submit",
        "status",
        "logs",
        "list",
        "cancel",
        "describe",
        "schema",
        "models",
        "plot",
        "validate",
    }
    for name, sub in verbs.items():
        text = sub.format_help()
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"seerctl {name}: {action.dest} has no help text"
        assert "usage: seerctl" in text


def test_dry_run_prints_the_command_and_starts_nothing(tmp_path: Path, digits: Path, env: dict[str, str]):
    out = seerctl(env, "submit", str(write_job(tmp_path, digits)), "--dry-run", "-o", "yaml")
    assert out.returncode == 0, out.stderr
    plan = yaml.safe_load(out.stdout)
    assert plan["command"][-2:] == ["-m", "seer.trainer"] and "--nproc-per-node" in plan["command"]
    assert not (Path(env["SEER_HOME"]) / "runs").exists()


def test_schema_and_models_are_machine_readable(env: dict[str, str]):
    schema = json.loads(seerctl(env, "schema").stdout)
    assert schema["title"] == "SeerJob" and "spec" in schema["properties"]
    models = json.loads(seerctl(env, "models", "-o", "json").stdout)
    assert {m["name"] for m in models} >= {"regnety_400mf", "regnety_256gf", "regnety_10b"}
