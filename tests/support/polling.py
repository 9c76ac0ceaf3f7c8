"""Wait for a condition in a test by polling it: the one wait loop the test helpers share.

The timeout only bounds a hang; it never decides whether a test passes (nothing may depend
on timing to pass), so it is generous and a timeout is reported as an AssertionError that
names what was awaited and the last value seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], timeout: float, what: str, poll: float = 0.2) -> T:
    """Call ``predicate`` every ``poll`` seconds until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        time.sleep(poll)
