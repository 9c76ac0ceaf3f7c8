"""The interval policy: by steps and/or seconds."""

from __future__ import annotations

import pytest

from seer.trainer.checkpoint.policy import should_save


@pytest.mark.parametrize(
    ("step", "last_step", "last_time", "now", "every_steps", "every_seconds", "due"),
    [
        (100, None, None, 0.0, 100, None, True),  # first interval counts from step 0
        (99, None, None, 0.0, 100, None, False),
        (250, 200, 0.0, 1.0, 50, None, True),
        (249, 200, 0.0, 1.0, 50, None, False),
        (201, 200, 0.0, 600.0, None, 600.0, True),
        (201, 200, 0.0, 599.9, None, 600.0, False),
        (201, 200, 0.0, 700.0, 1000, 600.0, True),  # either rule suffices
        (1200, 200, 0.0, 1.0, 1000, 600.0, True),
        (200, 200, 0.0, 9999.0, 1, 1.0, False),  # never twice for the same step
        (10**6, 0, 0.0, 10**6, None, None, False),  # both off: only explicit saves
        (5, None, None, 10**6, None, 1.0, False),  # no reference time yet
    ],
)
def test_should_save(
    step: int,
    last_step: int | None,
    last_time: float | None,
    now: float,
    every_steps: int | None,
    every_seconds: float | None,
    due: bool,
) -> None:
    assert should_save(step, last_step, last_time, now, every_steps, every_seconds) is due


@pytest.mark.parametrize(("every_steps", "every_seconds"), [(0, None), (None, 0.0), (-3, None)])
def test_nonsense_intervals_are_rejected(every_steps: int | None, every_seconds: float | None) -> None:
    with pytest.raises(ValueError):
        should_save(1, None, None, 0.0, every_steps, every_seconds)
