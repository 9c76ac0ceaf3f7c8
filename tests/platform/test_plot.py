"""`seerctl plot`'s drawing: a PNG of loss, throughput and learning rate with checkpoint
markers, from the trainer's progress log, without a display."""

from __future__ import annotations

import math

import matplotlib
import pytest
from PIL import Image

from seer.platform.plot import plot_run


def _events(n: int = 60) -> list[dict]:
    return [
        {
            "step": 10 * i,
            "epoch": i // 20,
            "loss": 8.0 * math.exp(-i / 30) + 1.0,
            "lr": min(1.0, i / 10) * 0.3,
            "images_per_s": 500.0 + 20 * math.sin(i),
            "data_wait_share": 0.1,
            "time": 1_700_000_000.0 + 5 * i,
        }
        for i in range(n)
    ]


def _non_white_share(path) -> float:
    with Image.open(path) as image:
        histogram = image.convert("L").histogram()  # 256 bins of grey levels
    return sum(histogram[:250]) / sum(histogram)


def test_plot_writes_a_non_trivial_png(tmp_path):
    out = plot_run(
        _events(), [{"step": 200, "time": 1.0}, {"step": 400, "time": 2.0}], tmp_path / "run.png", title="quickstart"
    )
    assert out == tmp_path / "run.png"
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (1000, 850)
    assert out.stat().st_size > 20_000
    assert _non_white_share(out) > 0.02  # lines, labels and axes were drawn


def test_checkpoint_markers_change_the_picture(tmp_path):
    without = plot_run(_events(), [], tmp_path / "a.png")
    with_ckpt = plot_run(_events(), [{"step": 100, "time": 0.0}, {"step": 300, "time": 0.0}], tmp_path / "b.png")
    assert _non_white_share(with_ckpt) > _non_white_share(without)


def test_a_nan_loss_and_missing_optional_fields_still_plot(tmp_path):
    events = _events(20)
    events[5]["loss"] = float("nan")
    del events[7]["lr"], events[8]["images_per_s"], events[9]["data_wait_share"]
    out = plot_run(list(reversed(events)), [], tmp_path / "nan.png")
    assert out.stat().st_size > 10_000


def test_no_events_or_an_event_without_loss_is_an_error_that_says_why(tmp_path):
    with pytest.raises(ValueError, match="no progress events"):
        plot_run([], [], tmp_path / "x.png")
    with pytest.raises(ValueError, match="#1 lacks 'loss'"):
        plot_run([{"step": 1, "loss": 2.0}, {"step": 2}], [], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plotting_does_not_touch_pyplot_or_the_backend(tmp_path):
    backend = matplotlib.get_backend()
    plot_run(_events(5), [], tmp_path / "p.png")
    assert matplotlib.get_backend() == backend
    import sys

    assert "matplotlib.pyplot" not in sys.modules or sys.modules["matplotlib.pyplot"].get_fignums() == []
