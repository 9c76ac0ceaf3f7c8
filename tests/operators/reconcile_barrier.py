"""Wait for the operator's own progress instead of sleeping.

The in-process operator (kopf's ``KopfRunner``) keeps its ``Reconciler`` in
``seer.operators.handlers.STATE``; the reconciler counts completed rounds per job
(``Reconciler.rounds_completed``). Reconciles of one job never overlap, so after
reading the count ``c`` at most one round is in flight, and it may have read the
cluster before the test's last action: round ``c + 2`` is the first that surely
started afterwards. Waiting for it turns "nothing happened" and "the status says X"
into statements about a reconcile that saw the current state, not about elapsed time.
"""

from __future__ import annotations

from typing import Any

from conftest import NS, wait_for


def current_reconciler() -> Any:
    """The running operator's reconciler (a new one per operator start), or None."""
    from seer.operators.handlers import STATE

    return STATE.reconciler


def wait_for_operator_start(previous: Any, timeout: float = 30.0) -> Any:
    """Wait until an operator started after ``previous`` (a reconciler or None) is up; return its reconciler."""
    return wait_for(
        lambda: (r := current_reconciler()) is not None and r is not previous and r,
        timeout=timeout,
        what="the operator's startup",
    )


def next_full_round(job: str, namespace: str = NS, timeout: float = 30.0) -> None:
    """Return once a reconcile of ``job`` that started after this call has completed.

    Something must trigger it: a pod or job change, or the resync timer (the tests run
    the operator with a 1-second resync), so this never waits on a fixed delay.
    """
    reconciler = wait_for_operator_start(None, timeout)
    key = (namespace, job)
    target = reconciler.rounds_completed.get(key, 0) + 2
    wait_for(
        lambda: reconciler.rounds_completed.get(key, 0) >= target,
        timeout=timeout,
        what=f"reconcile round {target} of {job}",
    )
