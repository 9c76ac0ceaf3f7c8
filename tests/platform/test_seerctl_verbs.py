"""seerctl's shared verbs on local jobs, without running any training: `delete` (and its
refusal while a job runs), `logs --rank` of a rank the job does not have, `logs --tail`,
`--version`, and NO_COLOR. The kubernetes side of these is in tests/platform/kube/."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from seer.platform.cli import main
from seer.platform.runs import RunDir, RunState
from seer.platform.spec import SeerJob

# Holds the run's owner lock, as a live supervisor does, until killed.
OWNER = (
    "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
    "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(600)"
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return tmp_path / "home"


def make_run(name: str, phase: str = "Succeeded", procs: int = 2, log: str = "") -> RunDir:
    """A local run directory as the supervisor leaves it (no training needed)."""
    run = RunDir.for_job(name)
    run.path.mkdir(parents=True)
    run.logs.mkdir()
    job = SeerJob.model_validate({"metadata": {"name": name}, "spec": {"resources": {"procsPerNode": procs}}})
    run.job_file.write_text(job.to_yaml())
    run.write_state(RunState(name=name, phase=phase))
    (run.logs / "supervisor.log").write_text(log)
    return run


@pytest.fixture
def running(tmp_path: Path):
    """A run whose supervisor is alive (a process holding its owner lock)."""
    run = make_run("busy", phase="Running")
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(run.path / ".lock")], stdout=subprocess.PIPE, text=True)
    assert owner.stdout.readline().strip() == "locked"
    run.update_state(supervisor_pid=owner.pid)
    yield run, owner
    if owner.poll() is None:
        owner.kill()
    owner.wait()


def test_delete_forgets_a_stopped_local_job(capsys):
    run = make_run("done")
    assert main(["delete", "done"]) == 0
    assert not run.path.exists() and "deleted local job 'done'" in capsys.readouterr().out
    assert main(["status", "done"]) == 1  # gone: an unknown job from now on


def test_delete_refuses_a_running_local_job_and_force_stops_it_first(running, capsys):
    run, owner = running
    assert main(["delete", "busy"]) == 1
    err = capsys.readouterr().err
    assert "is running" in err and "seerctl cancel busy" in err and "--force" in err
    assert run.path.exists() and owner.poll() is None  # nothing touched
    assert main(["delete", "busy", "--force"]) == 0
    assert owner.wait(timeout=60) == -9 and not run.path.exists()


def test_delete_of_an_unknown_local_job_names_the_jobs_that_exist(capsys):
    make_run("other")
    assert main(["delete", "ghost"]) == 1
    assert "no local job named 'ghost'" in capsys.readouterr().err


def test_logs_of_a_rank_the_job_does_not_have_is_an_error(capsys):
    run = make_run("two-ranks", procs=2)
    run.rank_log(1).write_text("rank one\n")
    assert main(["logs", "two-ranks", "--rank", "1"]) == 0
    assert capsys.readouterr().out == "rank one\n"
    assert main(["logs", "two-ranks", "--rank", "5"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "has 2 rank(s), 0 to 1: there is no --rank 5" in captured.err


@pytest.mark.parametrize(("tail", "expected"), [("2", ["b", "c"]), ("0", []), ("9", ["a", "b", "c"])])
def test_logs_tail_prints_only_the_last_lines(capsys, tail, expected):
    make_run("chatty", log="a\nb\nc\n")
    assert main(["logs", "chatty", "--tail", tail]) == 0
    assert capsys.readouterr().out.splitlines() == expected


def test_version_prints_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"seerctl {version('seer-platform')}"


def _styled_output(monkeypatch, capsys, no_color: str | None) -> str:
    monkeypatch.setenv("FORCE_COLOR", "1")  # styles even though the output is not a terminal
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)
    if not RunDir.for_job("styled").exists():
        make_run("styled")
    main(["list"])
    main(["status", "ghost"])  # the error line: "[bold red]error:"
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_no_color_turns_off_every_style_bold_included(monkeypatch, capsys):
    assert "\x1b[" in _styled_output(monkeypatch, capsys, None)  # styled by default
    plain = _styled_output(monkeypatch, capsys, "1")
    assert "\x1b[" not in plain and "error: no local job named 'ghost'" in plain and "styled" in plain


def test_an_empty_no_color_changes_nothing(monkeypatch, capsys):
    assert "\x1b[" in _styled_output(monkeypatch, capsys, "")


def test_the_cli_module_runs_with_no_color_in_a_subprocess(tmp_path):
    """The same through the real entry point, as a shell runs it."""
    env = {**os.environ, "SEER_HOME": str(tmp_path / "h"), "FORCE_COLOR": "1", "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "seer.platform.cli", "status", "ghost"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 1 and out.stderr.startswith("error:") and "\x1b[" not in out.stderr


def test_describe_speaks_camel_case_in_every_key_it_prints(capsys):
    import json
    import re

    make_run("described")
    assert main(["describe", "described", "-o", "json"]) == 0
    described = json.loads(capsys.readouterr().out)
    keys = [*described, *described["status"]]
    assert "lastCheckpointStep" in described["status"] and "runDir" in described
    assert [k for k in keys if not re.fullmatch(r"[a-z]+([A-Z][a-z0-9]*)*", k)] == []


@pytest.fixture
def plottable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import json

    run = make_run("drawn")
    events = [{"type": "step", "step": s, "loss": 8.0 - s, "images_per_s": 50.0, "lr": 0.1} for s in (1, 2, 3)]
    events.append({"type": "checkpoint", "step": 2})
    (run.path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["drawn", "a.png"], "a.png"),
        (["drawn", "--output-file", "b.png"], "b.png"),
        (["drawn", "-o", "png"], "drawn.png"),
        (["drawn"], "drawn.png"),
        (["drawn", "-o", "old.png"], "old.png"),  # the old meaning of -o, still accepted
    ],
)
def test_plot_writes_to_file_or_output_file_and_o_is_the_format(plottable, capsys, args, written):
    assert main(["plot", *args]) == 0
    assert (plottable / written).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {written}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["drawn", "-o", "svg"], "-o/--output is the image format: png, not 'svg'"),
        (["drawn", "a.png", "--output-file", "b.png"], "give the file once"),
    ],
)
def test_plot_refuses_an_unknown_format_or_two_files(plottable, capsys, args, message):
    assert main(["plot", *args]) == 2
    assert message in capsys.readouterr().err
