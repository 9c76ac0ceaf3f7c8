"""When to save: a pure interval policy."""

from __future__ import annotations

__all__ = ["should_save"]


def should_save(
    step: int,
    last_saved_step: int | None,
    last_saved_time: float | None,
    now: float,
    every_steps: int | None,
    every_seconds: float | None,
) -> bool:
    """Whether a checkpoint is due at ``step`` (after that step's optimizer update).

    Due when ``every_steps`` steps have passed since ``last_saved_step`` or
    ``every_seconds`` seconds since ``last_saved_time`` (either suffices; a ``None``
    interval is off). ``last_saved_*`` are ``None`` before the first save; then
    the step interval counts from step 0 and the time interval from ``now``
    would be meaningless, so only the step rule applies. Never due twice for
    the same step. Both intervals off → never due (saves then only happen
    through an explicit final save).

    Time-based decisions differ between ranks (clocks, step timing): in a
    multi-rank job they must be agreed on (see ``Checkpointer.should_save``).
    """
    if every_steps is not None and every_steps < 1:
        raise ValueError(f"every_steps must be >= 1 or None, got {every_steps}")
    if every_seconds is not None and every_seconds <= 0:
        raise ValueError(f"every_seconds must be > 0 or None, got {every_seconds}")
    if last_saved_step is not None and step <= last_saved_step:
        return False
    if every_steps is not None and step - (last_saved_step or 0) >= every_steps:
        return True
    if every_seconds is not None and last_saved_time is not None:
        return now - last_saved_time >= every_seconds
    return False
