"""One restart policy, two places: the local supervisor and the operator decide alike.

The shared table runs every row through both deciders — the local supervisor's
``decide`` with a worker's exit status, and the operator's ``desired_children`` with
a worker pod that ended with the same status — and expects the same action and the
same reason name from each.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from seer.operators.children import worker_pod
from seer.operators.planning import Observed, desired_children
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.local_supervisor import WorkerExit, decide
from seer.platform.restart_policy import (
    JITTER,
    Failure,
    backoff_bounds,
    backoff_seconds,
    exit_failure,
    jitter_rng,
    verdict,
)
from seer.platform.spec import RestartReason, RestartSpec, SeerJob

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
ALL = [r.value for r in RestartReason]

# (local exit status, the kubelet's exit status for the same ending, retryOn, restarts done, action, reason)
SHARED_TABLE = [
    (75, 75, ALL, 0, "restart", "Preempted"),
    (-9, 137, ALL, 0, "restart", "Signaled"),
    (None, 137, ALL, 1, "restart", "Signaled"),  # locally: the rank died without an exit record
    (-15, 143, ALL, 0, "restart", "Signaled"),
    (1, 1, ALL, 0, "fail", "ApplicationError"),
    (2, 2, ALL, 0, "fail", "ApplicationError"),
    (75, 75, ALL, 2, "fail", "RestartBudgetSpent"),
    (-9, 137, ["preemption"], 0, "fail", "SignaledNotRetried"),
    (75, 75, ["signal", "oomKill"], 0, "fail", "PreemptedNotRetried"),
]


def _job(retry_on: list[str]) -> SeerJob:
    restart = {"maxRestarts": 2, "backoffSeconds": 0, "maxBackoffSeconds": 0, "retryOn": retry_on}
    return SeerJob.model_validate(
        {"metadata": {"name": "j"}, "spec": {"resources": {"nodes": {"min": 1, "max": 1}}, "restart": restart}}
    )


def _local(code: int | None, job: SeerJob, restarts: int) -> tuple[str, str]:
    exits = [] if code is None else [WorkerExit(0, code)]
    d = decide(
        app_succeeded=False,
        exits=exits,
        expected_ranks=1,
        cancel_requested=False,
        restarts_so_far=restarts,
        restart=job.spec.restart,
    )
    return d.action, d.reason


def _kubernetes(code: int, job: SeerJob, restarts: int) -> tuple[str, str]:
    pod = worker_pod(job, "uid", 0, restarts)
    pod["status"] = {
        "phase": "Failed",
        "containerStatuses": [
            {"name": "trainer", "state": {"terminated": {"exitCode": code, "finishedAt": "2025-01-01T11:59:00Z"}}}
        ],
    }
    prev = SeerJobStatus(phase=Phase.running, restarts=restarts)
    plan = desired_children(job, "uid", 1, prev, Observed(pods=(pod,)), NOW)
    if plan.status.phase == Phase.failed:
        return "fail", plan.status.condition("Failed").reason
    replaced = [e.reason for e in plan.events if e.reason.startswith("Worker") and e.reason != "WorkersLost"]
    assert f"j-worker-0-{restarts + 1}" in {m["metadata"]["name"] for m in plan.create}
    assert len(replaced) == 1
    return "restart", replaced[0].removeprefix("Worker")


@pytest.mark.parametrize(("local_code", "kube_code", "retry_on", "restarts", "action", "reason"), SHARED_TABLE)
def test_local_supervisor_and_operator_decide_alike(local_code, kube_code, retry_on, restarts, action, reason):
    job = _job(retry_on)
    assert _local(local_code, job, restarts) == (action, reason)
    assert _kubernetes(kube_code, job, restarts) == (action, reason)


@pytest.mark.parametrize(
    ("code", "reason", "cause"),
    [
        (0, None, None),
        (None, "Signaled", RestartReason.signal),
        (75, "Preempted", RestartReason.preemption),
        (-9, "Signaled", RestartReason.signal),
        (137, "Signaled", RestartReason.signal),
        (1, "ApplicationError", None),
        (127, "ApplicationError", None),
    ],
)
def test_exit_statuses_mean_the_same_everywhere(code, reason, cause):
    failure = exit_failure(code, "rank 0")
    assert (failure.reason, failure.cause) == (reason, cause) if failure else reason is None


R = RestartSpec.model_validate({"maxRestarts": 5, "backoffSeconds": 10, "maxBackoffSeconds": 100})


@pytest.mark.parametrize(("n", "low", "high"), [(0, 10, 12), (1, 20, 24), (3, 80, 96), (4, 100, 100), (60, 100, 100)])
def test_backoff_doubles_is_capped_and_jitter_only_lengthens_it_up_to_the_cap(n, low, high):
    assert backoff_bounds(R, n) == pytest.approx((low, high))
    assert high == min(R.max_backoff_seconds, low * (1 + JITTER))
    draws = [backoff_seconds(R, n, random.Random(seed)) for seed in range(200)]
    assert all(low <= d <= high for d in draws)
    assert max(draws) - min(draws) >= 0.5 * (high - low)  # it really spreads (when there is room)


def test_jitter_is_a_pure_function_of_the_job_and_the_restart_number():
    first = [backoff_seconds(R, n, jitter_rng("uid-a", n)) for n in range(4)]
    assert first == [backoff_seconds(R, n, jitter_rng("uid-a", n)) for n in range(4)]
    assert first != [backoff_seconds(R, n, jitter_rng("uid-b", n)) for n in range(4)]


def test_an_application_error_is_never_retried_whatever_the_budget():
    v = verdict(Failure("ApplicationError", None, "boom"), 0, R, random.Random(0))
    assert (v.action, v.reason, v.backoff_seconds) == ("fail", "ApplicationError", 0.0)


def test_the_budget_counts_restarts_already_done():
    preempted = exit_failure(75, "rank 0")
    assert verdict(preempted, 4, R, random.Random(0)).action == "restart"
    spent = verdict(preempted, 5, R, random.Random(0))
    assert (spent.action, spent.reason) == ("fail", "RestartBudgetSpent") and "(5 restarts)" in spent.message


def test_the_operator_waits_the_jittered_backoff_from_the_failure_time():
    job = SeerJob.model_validate(
        {
            "metadata": {"name": "j"},
            "spec": {"resources": {"nodes": {"min": 1, "max": 1}}, "restart": {"backoffSeconds": 100}},
        }
    )
    pod = worker_pod(job, "uid", 0, 0)
    failed_at = NOW - timedelta(seconds=10)
    pod["status"] = {
        "phase": "Failed",
        "containerStatuses": [
            {
                "name": "trainer",
                "state": {"terminated": {"exitCode": 137, "finishedAt": failed_at.strftime("%Y-%m-%dT%H:%M:%SZ")}},
            }
        ],
    }
    plan = desired_children(job, "uid", 1, SeerJobStatus(phase=Phase.running), Observed(pods=(pod,)), NOW)
    expected = backoff_seconds(job.spec.restart, 0, jitter_rng("uid", 0)) - 10
    assert plan.requeue_after == pytest.approx(expected)
