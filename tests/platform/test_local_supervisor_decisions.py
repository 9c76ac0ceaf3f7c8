"""The local supervisor's restart policy, table-driven (pure function `decide`)."""

from __future__ import annotations

import pytest

from seer.platform.contract import EXIT_FAILED, EXIT_OK, EXIT_RETRYABLE
from seer.platform.local_supervisor import WorkerExit, decide
from seer.platform.restart_policy import backoff_bounds
from seer.platform.spec import RestartSpec

R = RestartSpec.model_validate({"maxRestarts": 2, "backoffSeconds": 1, "maxBackoffSeconds": 3})


def ex(*codes):
    return [WorkerExit(rank, code) for rank, code in enumerate(codes) if code != "missing"]


@pytest.mark.parametrize(
    ("succeeded", "exits", "cancel", "restarts", "action", "reason"),
    [
        (True, ex(EXIT_OK, EXIT_OK), False, 0, "succeed", "Completed"),
        (False, ex(EXIT_RETRYABLE, EXIT_RETRYABLE), False, 0, "restart", "Preempted"),
        (False, ex(EXIT_OK, "missing"), False, 0, "restart", "Signaled"),
        (False, ex(EXIT_RETRYABLE, "missing"), False, 1, "restart", "Signaled"),
        (False, ex(EXIT_FAILED, EXIT_RETRYABLE), False, 0, "fail", "ApplicationError"),
        (False, ex(EXIT_RETRYABLE, 2), False, 0, "fail", "ApplicationError"),
        (False, ex(EXIT_RETRYABLE, EXIT_RETRYABLE), False, 2, "fail", "RestartBudgetSpent"),
        (False, ex(EXIT_RETRYABLE, EXIT_RETRYABLE), True, 0, "cancelled", "Cancelled"),
        (False, ex(-9, EXIT_RETRYABLE), False, 0, "restart", "Signaled"),
        (False, ex(137, 137), False, 0, "restart", "Signaled"),
        (True, ex(EXIT_OK, EXIT_RETRYABLE), False, 0, "succeed", "Completed"),
        (False, ex(EXIT_OK, EXIT_OK), False, 0, "restart", "Preempted"),
    ],
)
def test_decision_table(succeeded, exits, cancel, restarts, action, reason):
    d = decide(
        app_succeeded=succeeded,
        exits=exits,
        expected_ranks=2,
        cancel_requested=cancel,
        restarts_so_far=restarts,
        restart=R,
    )
    assert (d.action, d.reason) == (action, reason), d


def test_an_application_error_names_the_rank_and_code():
    d = decide(
        app_succeeded=False,
        exits=[WorkerExit(0, EXIT_RETRYABLE), WorkerExit(1, EXIT_FAILED, "ValueError: boom")],
        expected_ranks=2,
        cancel_requested=False,
        restarts_so_far=0,
        restart=R,
    )
    assert "rank 1" in d.message and "ValueError: boom" in d.message


def test_restart_decision_carries_the_backoff():
    d = decide(
        app_succeeded=False,
        exits=ex(EXIT_RETRYABLE, EXIT_RETRYABLE),
        expected_ranks=2,
        cancel_requested=False,
        restarts_so_far=1,
        restart=R,
    )
    low, high = backoff_bounds(R, 1)
    assert d.action == "restart" and low <= d.backoff_seconds <= high and low == 2


def test_retry_on_is_honoured_locally():
    """A cause left out of restart.retryOn fails the job, as on Kubernetes."""
    only_preemption = RestartSpec.model_validate({"retryOn": ["preemption"]})
    kw = dict(expected_ranks=2, cancel_requested=False, restarts_so_far=0, restart=only_preemption)
    killed = decide(app_succeeded=False, exits=ex(EXIT_RETRYABLE, "missing"), **kw)
    assert (killed.action, killed.reason) == ("fail", "SignaledNotRetried")
    assert "retryOn does not include signal" in killed.message
    preempted = decide(app_succeeded=False, exits=ex(EXIT_RETRYABLE, EXIT_RETRYABLE), **kw)
    assert (preempted.action, preempted.reason) == ("restart", "Preempted")
