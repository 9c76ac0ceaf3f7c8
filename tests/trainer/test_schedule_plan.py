"""The schedule plan: steps per epoch, total steps, warmup and peak LR, fresh and resumed."""

from __future__ import annotations

import math
from typing import Any

import pytest

from seer.platform.spec import OptimSpec
from seer.trainer.checkpoint import TrainingProgress
from seer.trainer.schedule_plan import SchedulePlan, ScheduleRecord, plan_schedule

# The quickstart's numbers: 1437 images, 2 ranks x 32 = 64 per step -> 22 steps/epoch.
QUICKSTART = {"name": "sgd", "baseLr": 0.6, "epochs": 14, "warmupEpochs": 1}

CASES: list[tuple[str, dict[str, Any], int, int, tuple[int, int, int], tuple[int, int, float]]] = [
    # (case, optim, num_samples, global_batch, start (step, epoch, position), (total, warmup, peak LR))
    ("fresh: every full epoch", QUICKSTART, 1437, 64, (0, 0, 0), (308, 22, 0.15)),
    ("resumed mid-epoch: the same total", QUICKSTART, 1437, 64, (30, 1, 8 * 64), (308, 22, 0.15)),
    ("resumed at an epoch boundary", QUICKSTART, 1437, 64, (44, 2, 0), (308, 22, 0.15)),
    # Half the ranks: the rest of epoch 1 and every later epoch at the new global batch.
    ("resumed on half the ranks", QUICKSTART, 1437, 32, (30, 1, 8 * 64), (30 + 28 + 12 * 44, 44, 0.075)),
    ("maxSteps caps the total", {**QUICKSTART, "maxSteps": 100}, 1437, 64, (0, 0, 0), (100, 22, 0.15)),
    (
        "warmup never exceeds the total",
        {**QUICKSTART, "warmupEpochs": 5, "maxSteps": 20},
        1437,
        64,
        (0, 0, 0),
        (20, 20, 0.15),
    ),
    (
        "fractional warmup rounds half to even",
        {**QUICKSTART, "warmupEpochs": 0.5},
        1344,
        64,
        (0, 0, 0),
        (294, 10, 0.15),
    ),
    ("default LARS recipe: 0.3 per 256", {"epochs": 2, "warmupEpochs": 0}, 4096, 1024, (0, 0, 0), (8, 0, 1.2)),
]


@pytest.mark.parametrize(
    ("optim", "num_samples", "global_batch", "start", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan(
    optim: dict[str, Any],
    num_samples: int,
    global_batch: int,
    start: tuple[int, int, int],
    expected: tuple[int, int, float],
) -> None:
    plan = plan_schedule(
        OptimSpec.model_validate(optim),
        num_samples=num_samples,
        steps_per_epoch=num_samples // global_batch,
        global_batch=global_batch,
        start=TrainingProgress(*start),
    )
    assert (plan.total_steps, plan.warmup_steps) == expected[:2]
    assert plan.peak_lr == pytest.approx(expected[2])
    assert plan.steps_per_epoch == num_samples // global_batch and plan.global_batch == global_batch


def test_lr_rises_to_the_peak_over_the_warmup_then_decays_to_the_final_ratio() -> None:
    plan = SchedulePlan(
        steps_per_epoch=10, global_batch=64, total_steps=100, warmup_steps=10, peak_lr=0.2, final_lr_ratio=0.01
    )
    assert plan.lr_at(0) == 0.0
    assert plan.lr_at(5) == pytest.approx(0.1)
    assert plan.lr_at(10) == pytest.approx(0.2)
    assert plan.lr_at(55) == pytest.approx(0.002 + 0.5 * (0.2 - 0.002) * (1 + math.cos(math.pi * 0.5)))
    assert plan.lr_at(100) == pytest.approx(0.002)


def test_the_recorded_plan_round_trips_through_a_state_dict() -> None:
    plan = SchedulePlan(
        steps_per_epoch=22, global_batch=64, total_steps=308, warmup_steps=22, peak_lr=0.15, final_lr_ratio=0.001
    )
    record = ScheduleRecord()
    record.record(plan)
    restored = ScheduleRecord()
    restored.load_state_dict(record.state_dict())
    assert (restored.peak_lr, restored.total_steps) == (0.15, 308)
