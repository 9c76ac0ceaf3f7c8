"""Pure LR schedule: batch scaling, linear warmup, cosine to a floor."""

import math

import pytest

from seer.trainer.optim import lr_at, scaled_lr


def test_lr_scales_linearly_with_global_batch() -> None:
    assert scaled_lr(0.3, global_batch=4096) == pytest.approx(4.8)
    assert scaled_lr(0.3, global_batch=128, reference_batch=256) == pytest.approx(0.15)


def test_warmup_is_linear_and_reaches_peak_at_its_end() -> None:
    kw = dict(peak_lr=1.0, warmup_steps=10, total_steps=110, final_lr_ratio=0.01)
    assert lr_at(0, **kw) == 0.0
    assert lr_at(5, **kw) == pytest.approx(0.5)
    assert lr_at(10, **kw) == pytest.approx(1.0)


def test_cosine_decays_monotonically_to_the_final_ratio_and_stays() -> None:
    kw = dict(peak_lr=2.0, warmup_steps=10, total_steps=110, final_lr_ratio=0.01)
    lrs = [lr_at(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    assert lr_at(60, **kw) == pytest.approx(0.02 + 0.5 * (2.0 - 0.02) * (1 + math.cos(math.pi / 2)))
    assert lr_at(110, **kw) == pytest.approx(0.02)
    assert lr_at(500, **kw) == pytest.approx(0.02)


def test_inconsistent_schedule_is_rejected() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        lr_at(0, peak_lr=1.0, warmup_steps=20, total_steps=10, final_lr_ratio=0.0)
