"""The operator's restart policy end to end against the Kubernetes emulator: a worker
that keeps failing retryably is replaced exactly ``restart.maxRestarts`` times, then the
job fails with the budget reason; and each replacement waits its backoff, counted from
the failure time the (test-played) kubelet wrote into the pod status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import trainer_status, wait_for
from reconcile_barrier import next_full_round

from seer.platform.kube.status import parse_rfc3339

pytestmark = pytest.mark.services


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail_retryably(cluster: Any, name: str, finished_at: datetime) -> None:
    """The kubelet's report of a trainer killed by SIGKILL (exit 137) at ``finished_at``."""
    cluster.set_pod_status(
        name,
        {
            "phase": "Failed",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                trainer_status({"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": _stamp(finished_at)}})
            ],
        },
    )


def _worker_pods_ever_created(cluster: Any, job: str) -> list[str]:
    """Every worker pod of ``job`` the API server ever stored, in creation order (from its watch log)."""
    log = cluster.emulator.call(lambda: list(cluster.emulator.emulator.events_log))
    names = [
        obj["metadata"]["name"]
        for _rv, type_, (_group, plural), obj in log
        if plural == "pods"
        and type_ == "ADDED"
        and obj["metadata"]["labels"].get("seer.dev/job-name") == job
        and obj["metadata"]["labels"].get("seer.dev/role") == "worker"
    ]
    return list(dict.fromkeys(names))


def test_a_worker_failing_every_attempt_is_replaced_exactly_max_restarts_times(cluster, operator):
    max_restarts = 3
    cluster.submit("budget", restart={"maxRestarts": max_restarts, "backoffSeconds": 0, "maxBackoffSeconds": 0})
    for attempt in range(max_restarts + 1):
        name = f"budget-worker-0-{attempt}"
        wait_for(lambda: name in [p["metadata"]["name"] for p in cluster.pods("budget")], what=name)  # noqa: B023
        cluster.run_pod(name)
        _fail_retryably(cluster, name, datetime.now(timezone.utc))
    wait_for(lambda: cluster.status("budget").get("phase") == "Failed", what="Failed")
    next_full_round("budget")  # a whole reconcile after the failure: it must not replace the worker again

    status = cluster.status("budget")
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "RestartBudgetSpent" and f"({max_restarts} restarts)" in failed["message"]
    assert status["restarts"] == max_restarts
    assert _worker_pods_ever_created(cluster, "budget") == [f"budget-worker-0-{n}" for n in range(max_restarts + 1)]
    replaced = [e for e in cluster.events("budget") if e["reason"] == "WorkerSignaled"]
    assert len(replaced) == max_restarts, [e["message"] for e in replaced]


def test_each_replacement_waits_its_backoff_from_the_failure_time(cluster, operator):
    # base 2 s, doubling, capped at 3 s: restart 1 waits 2 s, restart 2 waits 3 s.
    cluster.submit("slow", restart={"maxRestarts": 5, "backoffSeconds": 2, "maxBackoffSeconds": 3})
    waits = {1: 2.0, 2: 3.0}
    for restart, backoff in waits.items():
        failing, replacement = f"slow-worker-0-{restart - 1}", f"slow-worker-0-{restart}"
        wait_for(lambda: cluster.pods("slow"), what="a worker")  # noqa: B023
        cluster.run_pod(failing)
        # Whole seconds, like the API server's own timestamps, so the comparison below is exact.
        failed_at = datetime.now(timezone.utc).replace(microsecond=0)
        _fail_retryably(cluster, failing, failed_at)
        pod = wait_for(
            lambda: next((p for p in cluster.pods("slow") if p["metadata"]["name"] == replacement), None),  # noqa: B023
            what=replacement,
        )
        created = parse_rfc3339(pod["metadata"]["creationTimestamp"])
        # The API server truncates to whole seconds: a pod created at failed_at + backoff or later
        # never shows an earlier stamp, and one created earlier always does.
        assert created >= failed_at + timedelta(seconds=backoff), (
            f"restart {restart}: replacement created at {created}, {backoff} s backoff from {failed_at} not honoured"
        )
        backing_off = [e for e in cluster.events("slow") if e["reason"] == "BackingOff"]
        assert backing_off, "the operator announces the wait"
    next_full_round("slow")
    assert cluster.status("slow")["restarts"] == len(waits)
    assert cluster.status("slow")["phase"] == "Restarting"
