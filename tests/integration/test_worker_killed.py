"""SIGKILL one worker of a 2-process local job at a random step: the supervisor restarts
the job by itself, it resumes from the last complete checkpoint and finishes the plan."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import LocalRun, starts, steps_of_attempt, wait_for


@pytest.mark.slow
def test_killed_worker_is_restarted_and_the_job_finishes_from_the_last_checkpoint(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun]
) -> None:
    interval = 4
    # 3 epochs of 10 steps (160 images, 2 ranks x 8): the kill lands well before the end.
    path = job_file(
        "killed", resources={"procsPerNode": 2}, optim={"epochs": 3}, checkpoint={"intervalSteps": interval}
    )
    kill_at = random.Random(4).randint(interval + 1, 12)  # random, but the same in every CI run
    run = local_run("killed")
    run.seerctl("submit", str(path))
    try:
        run.wait_for_step(kill_at)
        # A committed checkpoint to fall back on (the async save of step 4 may still be in flight).
        wait_for("a committed checkpoint", lambda: any(e["type"] == "checkpoint" for e in run.events()))
        pid = wait_for("rank 1's pid file", lambda: run.worker_pid(1))
        os.kill(pid, signal.SIGKILL)
        final = run.wait_until_final()
        assert final["phase"] == "Succeeded", run.diagnostics()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{run.diagnostics()}") from None

    events = run.events()
    first, second = starts(events)[:2]
    planned = first["total_steps"]
    assert planned == 30
    # The restart resumed from the newest checkpoint committed before the kill, no more than
    # one interval (plus a save in flight) behind the last step the killed attempt finished.
    committed_before = [e["step"] for e in events[: events.index(second)] if e["type"] == "checkpoint"]
    last_step_before = max(steps_of_attempt(events, 1))
    assert last_step_before >= kill_at
    assert second["resumed_from"] == max(committed_before)
    assert last_step_before - 2 * interval < second["resumed_from"] <= last_step_before
    # ...and trained every remaining step exactly once, up to the planned end.
    assert steps_of_attempt(events, 2) == list(range(second["resumed_from"] + 1, planned + 1))
    assert second["total_steps"] == planned
    assert [e["step"] for e in events if e["type"] == "end"] == [planned]

    status = run.status()
    assert status["phase"] == "Succeeded"
    assert status["restarts"] >= 1
    assert status["step"] == planned
    assert status["last_checkpoint_step"] == planned
    assert run.state()["restart_reasons"][0] == "Signaled"
    assert max(run.checkpoint_steps()) == planned
