"""`seerctl submit --wait` live progress: renders from the first poll (no total yet) to the end."""

from __future__ import annotations

import io

from rich.console import Console

from seer.platform.backends import JobStatus
from seer.platform.cli import commands


class ScriptedBackend:
    name = "local"

    def __init__(self, states: list[JobStatus]) -> None:
        self.states = states

    def status(self, name: str) -> JobStatus:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_live_progress_renders_before_the_total_is_known_and_reports_the_end(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(commands, "console", lambda: Console(file=out, force_terminal=True, width=150))
    states = [
        JobStatus(name="j", scheduler="local", phase="Pending"),
        JobStatus(name="j", scheduler="local", phase="Running", step=5, total_steps=10, loss=2.5, images_per_s=100.0),
        JobStatus(
            name="j",
            scheduler="local",
            phase="Succeeded",
            step=10,
            total_steps=10,
            loss=2.0,
            images_per_s=120.0,
            last_checkpoint_step=10,
        ),
    ]
    code = commands.follow(ScriptedBackend(states), "j", poll=0.01)
    text = out.getvalue()
    assert code == 0
    assert "step 10/10" in text and "loss 2.0000" in text and "j Succeeded" in text


def test_a_failed_job_makes_wait_exit_non_zero(monkeypatch):
    monkeypatch.setattr(commands, "console", lambda: Console(file=io.StringIO(), force_terminal=False))
    failed = JobStatus(name="j", scheduler="local", phase="Failed", reason="ApplicationError", message="boom")
    assert commands.follow(ScriptedBackend([failed]), "j", poll=0.01) == 1
