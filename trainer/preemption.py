"""SIGTERM means "you are being preempted": finish the step, checkpoint, exit 75.

The handler only sets a flag; the loop polls it at step boundaries and agrees on it
across ranks (a MAX all-reduce), because the final checkpoint is a collective that
every rank must enter at the same step, while SIGTERM reaches ranks at different times.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

log = logging.getLogger(__name__)


class PreemptionWatch:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.received_at: float | None = None

    def install(self) -> "PreemptionWatch":
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        if not self._event.is_set():
            self.received_at = time.monotonic()
            log.warning("received signal %d: will checkpoint and exit after this step", signum)
        self._event.set()

    def trigger(self) -> None:
        """Ask for a stop as if SIGTERM had arrived (tests, and a peer's stop)."""
        self._handle(signal.SIGTERM, None)

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def seconds_left(self, budget_s: float) -> float:
        """Budget left for the final checkpoint, counted from the signal."""
        if self.received_at is None:
            return budget_s
        return max(1.0, budget_s - (time.monotonic() - self.received_at))
