"""SIGTERM → a final checkpoint at the step the workers stopped at, and the next run
resumes from exactly that step: nothing is lost.

Two ways a SIGTERM arrives: ``seerctl cancel`` (the user stops the job; it is resumed
later with ``seerctl submit --resume``) and a preemption that signals the workers
themselves (retryable exit 75: the supervisor restarts the job on its own). The
checkpoint interval is longer than the run, so the only checkpoint that can exist at
the stop step is the final one written on SIGTERM.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from integration_support import LocalRun, starts, steps_of_attempt, wait_for

from seer.platform.exitcodes import EXIT_RETRYABLE
from seer.platform.runs import signal_pids

NO_PERIODIC_CHECKPOINTS = {"intervalSteps": 1000}


def _preempted_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    found = [e for e in events if e.get("type") == "preempted"]
    assert len(found) == 1, f"expected one preempted event, got {found}"
    return found[0]


def _sigterm_pending(pid: int) -> bool:
    """Whether SIGTERM is pending (sent, not yet handled) at ``pid`` (``/proc/<pid>/status``)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    pending = int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)
    return bool(pending >> (signal.SIGTERM - 1) & 1)


def _cancel_while_paused(run: LocalRun, name: str) -> None:
    """``seerctl cancel`` while both workers are stopped (SIGSTOP), so the job cannot end
    before the cancel reaches them however long the CLI takes to start: the workers go on
    only once SIGTERM is pending at both, and then stop at their next step boundary."""
    pids = wait_for("both workers' pid files", lambda: (p := [run.worker_pid(0), run.worker_pid(1)]) and all(p) and p)
    assert signal_pids(pids, signal.SIGSTOP) == 2
    try:
        run.seerctl("cancel", name)
        wait_for("SIGTERM pending at both workers", lambda: all(_sigterm_pending(pid) for pid in pids))
    finally:
        signal_pids(pids, signal.SIGCONT)


def _assert_resumed_exactly_at(run: LocalRun, stop_step: int) -> None:
    events = run.events()
    second = starts(events)[1]
    assert second["resumed_from"] == stop_step
    resumed_steps = steps_of_attempt(events, 2)
    assert resumed_steps[0] == stop_step + 1
    assert resumed_steps == list(range(stop_step + 1, second["total_steps"] + 1))
    assert [e["step"] for e in events if e["type"] == "end"] == [starts(events)[0]["total_steps"]]


@pytest.mark.slow
def test_cancel_writes_a_final_checkpoint_and_resume_continues_from_that_step(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun]
) -> None:
    path = job_file("cancelled", resources={"procsPerNode": 2}, optim={"epochs": 4}, checkpoint=NO_PERIODIC_CHECKPOINTS)
    run = local_run("cancelled")
    run.seerctl("submit", str(path))
    try:
        run.wait_for_step(2)
        _cancel_while_paused(run, "cancelled")
        final = run.wait_until_final()
        assert final["phase"] == "Cancelled"
        stop = _preempted_event(run.events())
        assert stop["checkpoint_ok"] is True
        assert run.checkpoint_steps() == [stop["step"]]
        exits = sorted((run.path / "exits" / "attempt-1").glob("rank-*.json"))
        assert len(exits) == 2 and all(f'"exit_code": {EXIT_RETRYABLE}' in f.read_text() for f in exits)

        # A finished name is refused without a flag; --resume continues from the checkpoint.
        refused = run.seerctl("submit", str(path), check=False)
        assert refused.returncode != 0 and "--resume" in refused.stderr
        run.seerctl("submit", str(path), "--resume")
        assert run.wait_until_final()["phase"] == "Succeeded"
        _assert_resumed_exactly_at(run, stop["step"])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{run.diagnostics()}") from None


@pytest.mark.slow
def test_preempted_workers_exit_retryable_and_the_supervisor_resumes_from_their_final_checkpoint(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun]
) -> None:
    path = job_file("preempted", resources={"procsPerNode": 2}, optim={"epochs": 3}, checkpoint=NO_PERIODIC_CHECKPOINTS)
    run = local_run("preempted")
    run.seerctl("submit", str(path))
    try:
        run.wait_for_step(2)
        pids = wait_for(
            "both workers' pid files", lambda: (p := [run.worker_pid(0), run.worker_pid(1)]) and all(p) and p
        )
        assert signal_pids(pids, signal.SIGTERM) == 2  # what a node drain / spot reclaim does
        final = run.wait_until_final()
        assert final["phase"] == "Succeeded"
        assert final["restarts"] == 1
        assert final["restart_reasons"] == ["Preempted"]
        stop = _preempted_event(run.events())
        assert stop["checkpoint_ok"] is True
        _assert_resumed_exactly_at(run, stop["step"])
        assert run.status()["restarts"] == 1
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{run.diagnostics()}") from None
