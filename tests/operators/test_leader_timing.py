"""The pure parts of leader election: who may take the Lease, and which timings are safe."""

from __future__ import annotations

import pytest

from seer.operators.leader import Timing, may_take


@pytest.mark.parametrize(
    "holder,unchanged_for,expected",
    [
        (None, 0.0, True),  # free
        ("", 0.0, True),  # released
        ("me", 0.0, True),  # ours: renew
        ("other", 14.9, False),  # alive
        ("other", 15.0, True),  # expired on our clock
    ],
)
def test_a_candidate_takes_a_free_own_or_expired_lease_only(holder, unchanged_for, expected):
    assert may_take(holder, "me", unchanged_for, lease_duration=15.0) is expected


@pytest.mark.parametrize("timing", [(15, 15, 2), (15, 10, 10), (15, 20, 2), (15, 10, 0)])
def test_timings_that_would_let_two_leaders_overlap_are_refused(timing):
    with pytest.raises(ValueError, match="retryPeriod < renewDeadline < leaseDuration"):
        Timing(*timing)
