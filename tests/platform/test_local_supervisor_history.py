"""The supervisor's loop records every attempt in ``state.json`` ``history``.

TorchX's runner is replaced by a scripted one (each attempt's workers "exit" by writing
the exit records a real worker writes); everything else — the decision, the backoff,
the state file — is the real supervisor.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from torchx.specs import AppState

from seer.platform import local_supervisor
from seer.platform.contract import ENV_ATTEMPT
from seer.platform.restart_policy import backoff_bounds
from seer.platform.runs import RunDir, RunState
from seer.platform.spec import SeerJob

MISSING = "missing"  # the rank wrote no exit record: killed by a signal


class ScriptedRunner:
    """Attempt n ends at once, with the exit codes of ``script[n - 1]`` (one per rank)."""

    def __init__(self, run: RunDir, script: list[list[int | str]]) -> None:
        self.run_dir, self.script, self.states = run, script, {}

    def __enter__(self) -> "ScriptedRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, app, scheduler: str, cfg: dict) -> str:
        attempt = int(app.roles[0].env[ENV_ATTEMPT])
        codes = self.script[attempt - 1]
        folder = self.run_dir.exits(attempt)
        folder.mkdir(parents=True, exist_ok=True)
        for rank, code in enumerate(codes):
            if code != MISSING:
                (folder / f"rank-{rank}.json").write_text(json.dumps({"rank": rank, "exit_code": code}))
        handle = f"local_cwd://session/attempt-{attempt}"
        self.states[handle] = AppState.SUCCEEDED if all(c == 0 for c in codes) else AppState.FAILED
        return handle

    def status(self, handle: str) -> SimpleNamespace:
        return SimpleNamespace(state=self.states[handle], is_terminal=lambda: True)

    def cancel(self, handle: str) -> None:
        raise AssertionError("nothing to cancel in this test")


def _supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: list[list[int | str]], restart: dict
) -> local_supervisor.Supervisor:
    job = SeerJob.model_validate(
        {"metadata": {"name": "hist"}, "spec": {"resources": {"procsPerNode": 2}, "restart": restart}}
    )
    run = RunDir(tmp_path / "hist")
    run.path.mkdir()
    run.job_file.write_text(job.to_yaml())
    run.write_state(RunState(name="hist"))
    runner = ScriptedRunner(run, script)
    monkeypatch.setattr("torchx.runner.get_runner", lambda: runner)
    # The handlers would replace pytest's own SIGINT handling; they are not under test here.
    monkeypatch.setattr(local_supervisor.Supervisor, "_install_signal_handlers", lambda self: None)
    return local_supervisor.Supervisor(run)


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: list[list[int | str]], restart: dict) -> dict:
    supervisor = _supervisor(tmp_path, monkeypatch, script, restart)
    supervisor.run_forever()
    return json.loads(supervisor.run.state_file.read_text())


def test_each_attempt_is_recorded_with_its_action_reason_and_backoff(tmp_path, monkeypatch):
    restart = {"maxRestarts": 3, "backoffSeconds": 0.01, "maxBackoffSeconds": 0.05}
    state = _run(tmp_path, monkeypatch, [[75, 75], [MISSING, 75], [0, 0]], restart)

    history = state["history"]
    assert [h["attempt"] for h in history] == [1, 2, 3]
    assert [h["action"] for h in history] == ["restart", "restart", "succeed"]
    assert [h["reason"] for h in history] == ["Preempted", "Signaled", "Completed"]
    spec = SeerJob.model_validate({"metadata": {"name": "x"}, "spec": {"restart": restart}}).spec.restart
    for n, entry in enumerate(history[:2]):
        low, high = backoff_bounds(spec, n)
        assert low <= entry["backoffSeconds"] <= high
    assert history[2]["backoffSeconds"] == 0
    for entry, following in zip(history, history[1:], strict=False):
        assert entry["startedAt"] <= entry["endedAt"] <= following["startedAt"]
    assert state["phase"] == "Succeeded" and state["restarts"] == 2
    assert state["restart_reasons"] == ["Preempted", "Signaled"]


def test_the_budget_ends_the_history_with_a_failure(tmp_path, monkeypatch):
    restart = {"maxRestarts": 1, "backoffSeconds": 0, "maxBackoffSeconds": 0}
    state = _run(tmp_path, monkeypatch, [[75, 75], [75, 75]], restart)
    assert [(h["action"], h["reason"]) for h in state["history"]] == [
        ("restart", "Preempted"),
        ("fail", "RestartBudgetSpent"),
    ]
    assert state["phase"] == "Failed" and state["reason"] == "RestartBudgetSpent"


def test_a_cancel_during_the_backoff_marks_the_last_attempt_cancelled(tmp_path, monkeypatch):
    supervisor = _supervisor(tmp_path, monkeypatch, [[75, 75]], {"backoffSeconds": 60, "maxBackoffSeconds": 60})
    # The user cancels while the supervisor waits out the backoff (its first sleep).
    clock = SimpleNamespace(
        time=time.time, monotonic=time.monotonic, sleep=lambda _s: setattr(supervisor, "cancel_requested", True)
    )
    monkeypatch.setattr(local_supervisor, "time", clock)
    supervisor.run_forever()
    state = json.loads(supervisor.run.state_file.read_text())
    assert [(h["attempt"], h["action"], h["reason"]) for h in state["history"]] == [(1, "cancelled", "Cancelled")]
    assert state["history"][0]["backoffSeconds"] >= 60 and state["phase"] == "Cancelled"
