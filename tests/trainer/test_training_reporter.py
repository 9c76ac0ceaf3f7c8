"""The training reporter: one place for metrics, events and log lines; checkpoints reported once."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from seer.platform.loading import validate_document
from seer.trainer.checkpoint import CheckpointConfig, Checkpointer, SaveResult, TrainingProgress, TrainingState
from seer.trainer.data import Batch
from seer.trainer.metrics import TrainerMetrics
from seer.trainer.runtime import Runtime
from seer.trainer.schedule_plan import SchedulePlan
from seer.trainer.training_reporter import TrainingReporter

JOB = {
    "apiVersion": "seer.dev/v1alpha1",
    "kind": "SeerJob",
    "metadata": {"name": "reporter"},
    "spec": {
        "model": {
            "variant": None,
            "design": {"depth": 2, "w0": 8, "wa": 8, "wm": 2, "groupWidth": 8, "stemWidth": 8},
        },
        "data": {"sources": ["/data/none"]},
        "training": {"logEverySteps": 2},
    },
}
PLAN = SchedulePlan(steps_per_epoch=5, global_batch=8, total_steps=5, warmup_steps=1, peak_lr=0.1, final_lr_ratio=0.0)


def make_reporter(run_dir: Path) -> TrainingReporter:
    runtime = Runtime(rank=0, local_rank=0, world_size=1, run_dir=run_dir, restart_count=2, attempt=3)
    metrics = TrainerMetrics.create("reporter", 0)
    return TrainingReporter(validate_document(JOB), runtime, metrics, device=torch.device("cpu"), world_size=1)


def sample(reporter: TrainingReporter, name: str) -> float | None:
    return reporter.metrics.registry.get_sample_value(name, {"seer_job": "reporter", "rank": "0"})


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def batch(position_after: int, corrupt: int = 0) -> Batch:
    return Batch(
        crops=[], indices=torch.arange(8), epoch=0, step_in_epoch=0, position_after=position_after, corrupt=corrupt
    )


def test_steps_update_every_metric_and_emit_an_event_on_log_steps_and_the_last(tmp_path: Path) -> None:
    reporter = make_reporter(tmp_path)
    progress = TrainingProgress()
    reporter.started(PLAN, num_samples=40, start_step=0, resumed_from=None)
    for step in range(5):
        progress.advance(epoch=0, position=8 * (step + 1))
        reporter.step_finished(
            progress, batch(progress.position, corrupt=1), loss=2.0 - step / 10, lr=0.1, data_wait_s=0.5, step_time_s=1
        )

    assert [e["step"] for e in events(tmp_path) if e["type"] == "step"] == [2, 4, 5]
    assert events(tmp_path)[0]["type"] == "start" and events(tmp_path)[0]["restart_count"] == 2
    assert sample(reporter, "seer_train_steps_total") == 5
    assert sample(reporter, "seer_train_images_total") == 40
    assert sample(reporter, "seer_train_step") == 5
    assert sample(reporter, "seer_train_loss") == pytest.approx(1.6)
    assert sample(reporter, "seer_train_data_wait_seconds_total") == pytest.approx(2.5)
    assert sample(reporter, "seer_train_corrupt_images_total") == 5
    assert sample(reporter, "seer_train_restarts") == 2
    assert sample(reporter, "seer_train_step_duration_seconds_count") == 5


@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
def test_a_checkpoint_outcome_becomes_metrics_and_an_event_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reporter = make_reporter(tmp_path / "run")
    (tmp_path / "run").mkdir()
    config = CheckpointConfig(
        url=str(tmp_path / "ckpt"), keep_last=2, every_steps=1, every_seconds=None, async_save=False
    )
    checkpointer = Checkpointer(config, {}, on_result=reporter.checkpoint_finished)
    state = TrainingState(nn.Linear(2, 2), None, progress=TrainingProgress(step=3), save_rng=False)

    with caplog.at_level(logging.INFO, logger="seer.trainer"):
        result = checkpointer.save(state, blocking=True)
        checkpointer.save(state, blocking=True)  # already committed: skipped, no metrics, no event
    assert result is not None and result.ok
    assert sum("checkpoint step 3 committed" in r.getMessage() for r in caplog.records) == 1
    assert [(e["type"], e["step"]) for e in events(tmp_path / "run")] == [("checkpoint", 3)]
    assert sample(reporter, "seer_checkpoint_last_step") == 3
    assert sample(reporter, "seer_checkpoint_save_duration_seconds_count") == 1

    failed = SaveResult(step=4, url="x", ok=False, attempts=3, duration_s=1.0, blocked_s=0.0, error="OSError: gone")
    with caplog.at_level(logging.INFO, logger="seer.trainer"):
        caplog.clear()
        reporter.checkpoint_finished(failed)
    assert caplog.records == []  # the checkpointer logs outcomes, the reporter does not repeat them
    last = events(tmp_path / "run")[-1]
    assert (last["type"], last["step"], last["error"]) == ("checkpoint_failed", 4, "OSError: gone")
    assert sample(reporter, "seer_checkpoint_save_failures_total") == 1
    assert sample(reporter, "seer_checkpoint_blocked_seconds_count") == 2


def test_the_parallelism_chosen_and_why_reach_the_start_event_and_prometheus(tmp_path: Path) -> None:
    from seer.platform.models.parallelism import ParallelPlan
    from seer.trainer.parallel import ParallelChoice

    reporter = make_reporter(tmp_path)
    plan = ParallelPlan("ddp", 1, 4, False, 3 * 2**30, "fits one device: replicate")
    reporter.started(PLAN, num_samples=40, start_step=0, resumed_from=None, parallelism=ParallelChoice(plan, None))
    start = next(e for e in events(tmp_path) if e["type"] == "start")
    assert start["parallelism"] == "ddp" and start["replicate_size"] == 4 and start["reason"] == plan.reason
    info = reporter.metrics.registry.get_sample_value(
        "seer_train_parallelism_info",
        {
            "seer_job": "reporter",
            "rank": "0",
            "parallelism": "ddp",
            "shard_size": "1",
            "replicate_size": "4",
            "activation_checkpointing": "False",
            "estimated_gib": "3.0",
            "reason": plan.reason,
        },
    )
    assert info == 1.0
    # A second run in the same process with the same registry does not fail on re-registration.
    reporter.started(PLAN, num_samples=40, start_step=0, resumed_from=None, parallelism=ParallelChoice(plan, None))
