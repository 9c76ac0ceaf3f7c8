"""One local run directory, one owner: the real ``seerctl``, supervisor, torchrun and workers.

- Two ``seerctl submit`` of one name released together: exactly one starts, the other
  gets "already running" (issue 12 item 3). A ``sitecustomize`` barrier holds each
  submit right after its name check until both have checked (or one has given up), so
  the race the check-then-write had is forced, not hoped for.
- SIGKILL of the supervisor: torchrun and the workers stop too; a second supervisor on
  a locked run directory is refused; orphaned workers are shown by ``status`` and
  stopped by ``cancel``; ``--resume`` waits for them (issue 12 item 4).

No assertion depends on timing: every wait is a bounded poll for a state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from integration_support import REPO, LocalRun, quiet_env, wait_for

SUBMIT_BARRIER = """\
import os
_barrier = os.environ.pop("SEER_TEST_SUBMIT_BARRIER", None)  # popped: children do not inherit it
if _barrier:
    import pathlib, time
    from seer.platform.backends import local as _local

    _check = _local.LocalBackend.check_name_free

    def check_name_free(self, job, **kwargs):
        result = _check(self, job, **kwargs)
        folder = pathlib.Path(_barrier)
        (folder / f"arrived-{os.getpid()}").touch()
        deadline = time.monotonic() + 150
        while not (folder / "release").exists():
            if time.monotonic() > deadline:
                raise SystemExit("test barrier never released")
            time.sleep(0.05)
        return result

    _local.LocalBackend.check_name_free = check_name_free
"""


def processes_of(run_dir: Path) -> list[int]:
    """Live processes started for ``run_dir``: supervisors (``run_dir`` on their command line),
    torchrun and workers (``SEER_RUN_DIR`` in their environment). Linux /proc."""
    marker, arg = f"SEER_RUN_DIR={run_dir}".encode(), str(run_dir).encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if (marker in environ or arg in cmdline) and stat.rsplit(")", 1)[1].split()[0] != "Z":
            out.append(int(entry.name))
    return out


@pytest.fixture
def reaper(seer_home: Path) -> Iterator[Callable[[LocalRun], None]]:
    """Registers runs whose every process (even ones seerctl lost track of) is killed at teardown."""
    runs: list[LocalRun] = []
    yield runs.append
    for run in runs:
        for pid in processes_of(run.path):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def seerctl_popen(run: LocalRun, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seer.platform.cli", *args],
        env=quiet_env({"SEER_HOME": str(run.home), **(extra_env or {})}),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_submits_of_one_name_released_together_start_exactly_one_job(
    tmp_path: Path,
    job_file: Callable[..., Path],
    local_run: Callable[[str], LocalRun],
    reaper: Callable[[LocalRun], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = tmp_path / "site-barrier"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SUBMIT_BARRIER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
    barrier = tmp_path / "barrier"
    barrier.mkdir()

    path = job_file("twin", optim={"maxSteps": 1_000_000, "epochs": 100_000}, checkpoint={"intervalSteps": 1000})
    run = local_run("twin")
    reaper(run)
    submits = [seerctl_popen(run, "submit", str(path), extra_env={"SEER_TEST_SUBMIT_BARRIER": str(barrier)})]
    submits.append(seerctl_popen(run, "submit", str(path), extra_env={"SEER_TEST_SUBMIT_BARRIER": str(barrier)}))
    # Release when both passed their name check (the race), or when one already gave up.
    wait_for(
        "both submits to pass the name check, or one to be refused",
        lambda: len(list(barrier.glob("arrived-*"))) == 2 or any(p.poll() is not None for p in submits),
    )
    (barrier / "release").touch()
    results = [p.communicate(timeout=150) for p in submits]
    codes = [p.returncode for p in submits]

    assert sorted(codes) == [0, 1], f"exit statuses {codes}: {results}"
    loser_err = results[codes.index(1)][1]
    assert "already running" in loser_err, loser_err
    assert "Traceback" not in loser_err, loser_err

    # The winner's job runs, under one supervisor; it can be cancelled to the end.
    run.wait_for_step(1)
    state = run.state()
    assert state["phase"] == "Running", run.diagnostics()
    run.seerctl("cancel", "twin")
    final = run.wait_until_final()
    assert final["phase"] == "Cancelled", run.diagnostics()
    wait_for("every process of the run to end", lambda: not processes_of(run.path))


def _live(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            out.append(pid)
    return out


@pytest.mark.slow
def test_sigkill_of_the_supervisor_stops_torchrun_and_the_workers(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun], reaper: Callable[[LocalRun], None]
) -> None:
    from seer.platform.run_lock import workers_alive

    path = job_file(
        "orphan",
        resources={"procsPerNode": 2},
        optim={"maxSteps": 1_000_000, "epochs": 100_000},
        checkpoint={"intervalSteps": 1000},
    )
    run = local_run("orphan")
    reaper(run)
    run.seerctl("submit", str(path))
    run.wait_for_step(1)
    supervisor = run.state()["supervisor_pid"]
    group = [pid for pid in processes_of(run.path) if pid != supervisor]
    assert len(group) >= 3, f"torchrun and 2 workers expected, found {group}\n{run.diagnostics()}"
    assert workers_alive(run.path), "every worker holds the run's workers lock"

    os.kill(supervisor, signal.SIGKILL)
    wait_for("torchrun and the workers to stop after their supervisor died", lambda: not _live(group))

    st = run.status()
    assert (st["phase"], st["reason"]) == ("Failed", "SupervisorLost"), st
    assert not workers_alive(run.path)
    # They were stopped as on a preemption (SIGTERM through torchrun), not killed: each
    # wrote its exit record, retryable, so `--resume` goes on from their final checkpoint.
    exits = [json.loads(p.read_text()) for p in sorted((run.path / "exits" / "attempt-1").glob("rank-*.json"))]
    assert [e["exit_code"] for e in exits] == [75, 75], exits

    resumed = run.seerctl("submit", str(path), "--resume")
    assert resumed.returncode == 0
    run.wait_for_step(st["step"] + 1, after_start=2)
    assert run.state()["phase"] == "Running"


@pytest.mark.slow
def test_a_second_supervisor_on_an_owned_run_directory_is_refused(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun], reaper: Callable[[LocalRun], None]
) -> None:
    path = job_file("owned", optim={"maxSteps": 1_000_000, "epochs": 100_000}, checkpoint={"intervalSteps": 1000})
    run = local_run("owned")
    reaper(run)
    run.seerctl("submit", str(path))
    run.wait_for_step(1)
    before = run.state()

    second = subprocess.run(
        [sys.executable, "-m", "seer.platform.local_supervisor", str(run.path)],
        env=quiet_env({"SEER_HOME": str(run.home)}),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 1, second.stdout + second.stderr
    assert "owned by another supervisor" in second.stdout + second.stderr
    after = run.state()
    assert after["supervisor_pid"] == before["supervisor_pid"] and after["attempt"] == before["attempt"]
    assert after["phase"] == "Running"


ORPHAN_WORKER = """\
import os, signal, sys, time
from pathlib import Path
from seer.platform.run_lock import hold_workers_lock

run_dir = Path(os.environ["SEER_RUN_DIR"])
hold_workers_lock(run_dir)  # what every real worker does first
(run_dir / "pids").mkdir(exist_ok=True)
(run_dir / "pids" / "rank-0.pid").write_text(str(os.getpid()))
signal.signal(signal.SIGTERM, lambda *_: os._exit(75))  # a final checkpoint, then 'retryable'
print("ready", flush=True)
deadline = time.monotonic() + 300  # never outlive a broken test
while time.monotonic() < deadline:
    time.sleep(0.2)
sys.exit(3)
"""


@pytest.mark.slow
def test_orphaned_workers_are_shown_block_resume_and_are_stopped_by_cancel(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun]
) -> None:
    """A worker that outlived its supervisor (what SIGKILL left before workers died with it;
    still possible for the seconds a worker takes to write its final checkpoint)."""
    from seer.platform.loading import load_job
    from seer.platform.runs import RunDir, RunState

    path = job_file("stray")
    run = local_run("stray")
    rundir = RunDir(run.path)
    rundir.logs.mkdir(parents=True)
    rundir.job_file.write_text(load_job(path).to_yaml())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    rundir.write_state(RunState(name="stray", phase="Running", supervisor_pid=gone.pid, attempt=1))
    orphan = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_WORKER],
        env=quiet_env({"SEER_RUN_DIR": str(run.path)}),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert orphan.stdout is not None and orphan.stdout.readline().strip() == "ready"

        st = run.status()
        assert (st["phase"], st["reason"]) == ("Running", "SupervisorLost"), st
        assert str(orphan.pid) in st["message"], st

        resumed = run.seerctl("submit", str(path), "--resume", check=False)
        assert resumed.returncode == 1 and "still running" in resumed.stderr, resumed.stdout + resumed.stderr
        assert run.state()["supervisor_pid"] == gone.pid, "a refused submit starts nothing"

        cancelled = run.seerctl("cancel", "stray")
        assert "orphaned" in cancelled.stdout, cancelled.stdout
        assert orphan.wait(timeout=120) == 75
        assert run.status()["phase"] == "Cancelled"
    finally:
        orphan.kill()
        orphan.wait()
