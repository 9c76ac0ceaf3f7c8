"""Bounded retries with exponential backoff (pure schedule)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often a failed save is retried before it is reported as failed.

    ``attempts`` counts the first try. The pause after failed attempt ``i``
    (0-based) is ``min(initial_backoff_s * multiplier**i, max_backoff_s)``.
    Implementation knobs, not spec fields: the spec decides *whether* and *where*
    to checkpoint, this decides how hard to push against a flaky store.
    """

    attempts: int = 3
    initial_backoff_s: float = 0.5
    multiplier: float = 2.0
    max_backoff_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise ValueError(f"RetryPolicy backoff must be non-negative and non-shrinking: {self}")

    def backoff_s(self, failed_attempt: int) -> float:
        """Pause after the ``failed_attempt``-th (0-based) failure."""
        return min(self.initial_backoff_s * self.multiplier**failed_attempt, self.max_backoff_s)

    def should_retry(self, failed_attempt: int, seconds_left: float | None) -> bool:
        """Whether to try again after the ``failed_attempt``-th (0-based) failure.

        With a deadline (``seconds_left`` not ``None``) a retry is only started
        if its backoff pause ends before the deadline.
        """
        if failed_attempt + 1 >= self.attempts:
            return False
        return seconds_left is None or self.backoff_s(failed_attempt) < seconds_left
