"""`seerctl plot` of a cluster job: progress read back from the worker pods' log lines, in
the trainer's own format (read out of the trainer's source, so a format change fails here)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seer.platform.backends.kube import KubernetesBackend
from seer.platform.backends.log_progress import progress_events

ROOT = Path(__file__).resolve().parents[2]


def _format(path: str, starts: str) -> str:
    """The first string literal in ``path`` that starts with ``starts`` (a logging format)."""
    source = (ROOT / path).read_text()
    (found,) = re.findall(r'"(' + re.escape(starts) + r'[^"]*)"', source)[:1]
    return found


STEP_FORMAT = _format("trainer/training_reporter.py", "step %d/%d epoch")
CHECKPOINT_FORMAT = _format("trainer/checkpoint/checkpointer.py", "checkpoint step %d %s in")


def line(rank: int, logger: str, message: str) -> str:
    return f"2026-12-04 10:00:00,000 [rank {rank}] INFO {logger}: {message}"


def step_line(rank: int, step: int, loss: float) -> str:
    return line(rank, "seer.trainer", STEP_FORMAT % (step, 308, 0, loss, 0.02727, 60.9, 9.8))


def checkpoint_line(step: int) -> str:
    message = CHECKPOINT_FORMAT % (step, "committed", 1.5, 0.01, 1, "s3://b/c/step-%d" % step)
    return line(0, "seer.trainer.checkpoint.checkpointer", message)


def test_steps_of_rank_0_and_checkpoints_become_events():
    lines = [
        step_line(0, 5, 3.4375),
        step_line(1, 5, 3.4375),  # every rank logs the same mean: rank 0's is enough
        "Traceback (most recent call last):",
        checkpoint_line(5),
        step_line(0, 10, float("nan")),
    ]
    events = progress_events(lines)
    steps = [e for e in events if e["type"] == "step"]
    assert [(e["step"], e["total_steps"], e["images_per_s"]) for e in steps] == [(5, 308, 60.9), (10, 308, 60.9)]
    assert steps[0]["loss"] == 3.4375 and steps[1]["loss"] != steps[1]["loss"]  # nan stays nan
    assert [e for e in events if e["type"] == "checkpoint"] == [{"type": "checkpoint", "step": 5}]


def test_a_step_logged_again_after_a_restart_keeps_the_later_line():
    events = progress_events([step_line(0, 5, 3.0), step_line(0, 5, 2.5)])
    assert [(e["step"], e["loss"]) for e in events] == [(5, 2.5)]


class PodsClient:
    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return {"metadata": {"name": name}}

    def worker_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [{"metadata": {"name": f"{name}-worker-{s}-0", "labels": {}}} for s in (0, 1)]

    def log_lines(self, namespace: str, pod: str, **_: Any) -> Iterator[str]:
        if pod.endswith("-1-0"):  # rank 0 need not be on slot 0 (elastic rendezvous)
            yield from [step_line(0, 5, 3.0), checkpoint_line(5), step_line(0, 10, 2.0)]
        else:
            yield step_line(1, 5, 3.0)


def test_seerctl_plot_draws_a_cluster_job_from_its_pods(tmp_path, monkeypatch, capsys):
    from seer.platform.cli import commands, main

    backend = KubernetesBackend(namespace="ns", client=PodsClient())  # type: ignore[arg-type]
    monkeypatch.setattr(commands, "_backend", lambda args, job=None: backend)
    out = tmp_path / "k.png"
    assert main(["plot", "kjob", str(out), "-s", "kubernetes"]) == 0, capsys.readouterr().err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [e["step"] for e in backend.events("kjob") if e["type"] == "step"] == [5, 10]
