"""A picture of a training run without a monitoring stack: ``seerctl plot NAME -o FILE.png``.

:func:`plot_run` draws, against the optimizer step, the loss, the throughput (images/s,
with the data-wait share on a second axis) and the learning rate, with a dashed line
at every committed checkpoint — the same story as the Grafana dashboard, from the
trainer's progress log alone.

Inputs are the trainer's progress-log lines (JSON, one per logged step)::

    {"step": int, "epoch": int, "loss": float, "lr": float, "images_per_s": float,
     "data_wait_share": float, "time": unix float}

and the committed checkpoints ``{"step": int, "time": float}``. ``step`` and ``loss`` are
required; the other fields may be missing from some lines (their panel shows a gap).
A non-finite loss (NaN/inf) is marked with a red cross instead of being dropped, since
it is the first thing someone looking at a failed run needs to see.

Rendering uses matplotlib's Agg canvas on a bare ``Figure`` (no pyplot): no display, no
global state, safe in threads and on headless machines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Colours shared by the panels (matplotlib's default cycle, named for readability).
_LOSS, _THROUGHPUT, _WAIT, _LR, _CHECKPOINT, _BAD = "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#7f7f7f", "#d62728"


def _column(events: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of the events that carry ``key`` with a numeric value."""
    steps, values = [], []
    for event in events:
        value = event.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            steps.append(int(event["step"]))
            values.append(float(value))
    return steps, values


def _validate(events: Sequence[Mapping[str, Any]], checkpoints: Sequence[Mapping[str, Any]]) -> None:
    if not events:
        raise ValueError("no progress events to plot: has the job logged its first step yet?")
    for i, event in enumerate(events):
        for key in ("step", "loss"):
            if key not in event:
                raise ValueError(f"progress event #{i} lacks {key!r}: {dict(event)!r}")
    for i, checkpoint in enumerate(checkpoints):
        if "step" not in checkpoint:
            raise ValueError(f"checkpoint #{i} lacks 'step': {dict(checkpoint)!r}")


def plot_run(
    events: Sequence[Mapping[str, Any]],
    checkpoints: Sequence[Mapping[str, Any]],
    out_path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Draw loss, throughput and learning rate with checkpoint markers into a PNG.

    Events may come in any order (they are sorted by step; a resumed run that logged a
    step twice shows both points). Returns the written path. Raises ValueError when
    there is nothing to draw or an event lacks ``step``/``loss``.
    """
    _validate(events, checkpoints)
    ordered = sorted(events, key=lambda e: int(e["step"]))
    checkpoint_steps = sorted({int(c["step"]) for c in checkpoints})

    fig = Figure(figsize=(10, 8.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_speed, ax_lr = fig.subplots(3, 1, sharex=True)

    steps, losses = _column(ordered, "loss")
    finite = [(s, v) for s, v in zip(steps, losses, strict=False) if math.isfinite(v)]
    bad = [s for s, v in zip(steps, losses, strict=False) if not math.isfinite(v)]
    if finite:
        ax_loss.plot([s for s, _ in finite], [v for _, v in finite], color=_LOSS, linewidth=1.2, label="loss")
    if bad:
        ax_loss.plot(
            bad,
            [0.04] * len(bad),
            "x",
            color=_BAD,
            markersize=8,
            label="non-finite loss",
            transform=ax_loss.get_xaxis_transform(),
        )
    ax_loss.set_ylabel("SwAV loss")

    speed_steps, speed = _column(ordered, "images_per_s")
    ax_speed.plot(speed_steps, speed, color=_THROUGHPUT, linewidth=1.2, label="images/s")
    ax_speed.set_ylabel("images / s")
    ax_speed.set_ylim(bottom=0)
    wait_steps, wait = _column(ordered, "data_wait_share")
    if wait_steps:
        ax_wait = ax_speed.twinx()
        ax_wait.plot(wait_steps, [100 * w for w in wait], color=_WAIT, linewidth=1, linestyle=":", label="data wait %")
        ax_wait.set_ylabel("data wait (% of step)", color=_WAIT)
        ax_wait.set_ylim(0, 100)

    lr_steps, lrs = _column(ordered, "lr")
    ax_lr.plot(lr_steps, lrs, color=_LR, linewidth=1.2, label="learning rate")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("optimizer step")

    for ax in (ax_loss, ax_speed, ax_lr):
        for i, step in enumerate(checkpoint_steps):
            ax.axvline(
                step,
                color=_CHECKPOINT,
                linestyle="--",
                linewidth=0.8,
                alpha=0.8,
                label="checkpoint" if i == 0 else None,
            )
        ax.grid(True, alpha=0.3)
    ax_loss.legend(loc="upper right", fontsize="small")

    last = ordered[-1]
    subtitle = f"step {int(last['step'])}"
    if "epoch" in last:
        subtitle += f", epoch {last['epoch']}"
    subtitle += f", {len(checkpoint_steps)} checkpoint{'s' if len(checkpoint_steps) != 1 else ''}"
    fig.suptitle(f"{title} — {subtitle}" if title else subtitle)

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
