"""The local supervisor's restart policy end to end: the real ``seerctl submit``, the
detached supervisor, TorchX ``local_cwd`` and torchrun, with workers that die by SIGKILL
on every attempt. The job must stop after exactly ``restart.maxRestarts`` restarts with
the budget reason, and the supervisor's own records (``state.json`` ``history``) must
show each restart waiting its backoff.

How every attempt dies: a ``sitecustomize`` module on ``PYTHONPATH`` (inherited by the
supervisor, torchrun and the workers) SIGKILLs any process that torchrun started as a
worker of a Seer attempt, before it imports anything. Nothing of the code under test is
replaced; its workers just die like OOM-killed processes, deterministically and cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from integration_support import LocalRun, wait_for

from seer.platform.restart_policy import BUDGET_SPENT, SIGNALED, backoff_seconds, jitter_rng
from seer.platform.spec import RestartSpec

KILL_EVERY_WORKER = """\
import os, signal
# A Seer worker under torchrun: torchrun sets LOCAL_RANK and TORCHELASTIC_RUN_ID for its
# workers only; the supervisor sets SEER_ATTEMPT. Die as the OOM killer would make it.
if os.environ.get("SEER_ATTEMPT") and os.environ.get("LOCAL_RANK") and os.environ.get("TORCHELASTIC_RUN_ID"):
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def workers_always_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-kill"
    site.mkdir()
    (site / "sitecustomize.py").write_text(KILL_EVERY_WORKER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))


def _wait_final_within_budget(run: LocalRun, max_attempts: int) -> dict[str, Any]:
    """Wait for the end, failing as soon as the supervisor starts more attempts than allowed."""

    def final() -> dict[str, Any] | None:
        state = run.state()
        assert (state.get("attempt") or 0) <= max_attempts, (
            f"attempt {state.get('attempt')} started; the budget allows {max_attempts}\n{run.diagnostics()}"
        )
        return state if state.get("phase") in ("Succeeded", "Failed", "Cancelled") else None

    return wait_for(f"{run.name} to end", final)


@pytest.mark.slow
def test_a_job_killed_on_every_attempt_stops_after_exactly_max_restarts_with_backoff(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun], workers_always_killed: None
) -> None:
    restart = {"maxRestarts": 2, "backoffSeconds": 1.0, "maxBackoffSeconds": 1.5}
    max_restarts, policy = restart["maxRestarts"], RestartSpec.model_validate(restart)
    path = job_file("doomed", resources={"procsPerNode": 2}, restart=restart)
    run = local_run("doomed")
    run.seerctl("submit", str(path))
    state = _wait_final_within_budget(run, max_restarts + 1)

    assert state["phase"] == "Failed", run.diagnostics()
    assert state["reason"] == BUDGET_SPENT, run.diagnostics()
    assert state["restarts"] == max_restarts and state["attempt"] == max_restarts + 1
    assert state["restart_reasons"] == [SIGNALED] * max_restarts

    # The supervisor's own record of every attempt.
    history = state.get("history")
    assert isinstance(history, list), f"state.json has no attempt history: {sorted(state)}"
    assert [h["attempt"] for h in history] == list(range(1, max_restarts + 2))
    assert [h["action"] for h in history] == ["restart"] * max_restarts + ["fail"]
    assert [h["reason"] for h in history] == [SIGNALED] * max_restarts + [BUDGET_SPENT]
    for n, h in enumerate(history[:-1]):
        # The policy's delay: base * 2**n capped, plus the job's seeded jitter (a pure function).
        assert h["backoffSeconds"] == pytest.approx(backoff_seconds(policy, n, jitter_rng("doomed", n))), h
        assert h["backoffSeconds"] >= min(policy.max_backoff_seconds, policy.backoff_seconds * 2**n)
        nxt = history[n + 1]
        assert h["startedAt"] <= h["endedAt"] <= nxt["startedAt"]
        gap = nxt["startedAt"] - h["endedAt"]
        # Never earlier than the policy says (the clock only decides the lower bound's slack).
        assert gap >= h["backoffSeconds"], f"attempt {nxt['attempt']} started {gap:.3f} s after the failure: {h}"
    assert not history[-1].get("backoffSeconds")
