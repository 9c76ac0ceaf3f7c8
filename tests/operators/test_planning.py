"""Table-driven tests of the reconcile decision (no API server involved)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import node_lost_status

from seer.operators.children import rendezvous_pod, rendezvous_service, worker_pod
from seer.operators.planning import Observed, desired_children
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.restart_policy import backoff_bounds
from seer.platform.spec import SeerJob

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "u-1"


def job(**spec):
    return SeerJob.model_validate(
        {"metadata": {"name": "j"}, "spec": {"resources": {"nodes": {"min": 2, "max": 3}}, **spec}}
    )


def running(p, ready=True):
    p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return p


def failed(p, code, at=NOW - timedelta(seconds=60)):
    p["status"] = {
        "phase": "Failed",
        "containerStatuses": [
            {
                "name": "trainer",
                "state": {"terminated": {"exitCode": code, "finishedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")}},
            }
        ],
    }
    return p


def store(j):
    """The rendezvous pod (ready) and its Service, as they exist once a job has workers."""
    return (running(rendezvous_pod(j, UID)),), (rendezvous_service(j, UID),)


def observed(j, pods):
    """Workers plus the store they were created with (no store at all: a fresh job)."""
    if not pods:
        return Observed()
    rdzv, services = store(j)
    return Observed(pods=(*rdzv, *pods), services=services)


def plan(j, pods, status=None):
    return desired_children(j, UID, 1, status or SeerJobStatus(), observed(j, pods), NOW)


def names(manifests):
    return sorted(m["metadata"]["name"] for m in manifests)


def test_fresh_job_creates_all_slots_rendezvous_and_service_and_is_pending():
    p = plan(job(), [])
    assert names(p.create) == ["j-rdzv", "j-rdzv", "j-worker-0-0", "j-worker-1-0", "j-worker-2-0"]
    assert p.status.phase == Phase.pending and p.status.nodes_desired == 3


def test_reconciling_what_exists_creates_nothing():
    j = job()
    pods = [running(worker_pod(j, UID, s, 0)) for s in range(3)]
    p = desired_children(j, UID, 1, SeerJobStatus(), observed(j, pods), NOW)
    assert not p.create and not p.delete
    assert p.status.phase == Phase.running and p.status.nodes_ready == 3


@pytest.mark.parametrize(
    "ready, phase", [(3, Phase.running), (2, Phase.running), (1, Phase.pending), (0, Phase.pending)]
)
def test_phase_follows_ready_workers_against_min(ready, phase):
    j = job()
    pods = [running(worker_pod(j, UID, s, 0), ready=s < ready) for s in range(3)]
    assert plan(j, pods).status.phase == phase


def test_retryable_failure_is_replaced_with_next_restart_suffix_after_backoff():
    j = job(restart={"backoffSeconds": 10, "maxBackoffSeconds": 100})
    pods = [running(worker_pod(j, UID, 0, 0)), running(worker_pod(j, UID, 1, 0)), failed(worker_pod(j, UID, 2, 0), 137)]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running))
    assert "j-worker-2-1" in names(p.create) and [d.name for d in p.delete] == ["j-worker-2-0"]
    assert p.status.restarts == 1 and p.restart_causes == ("signal",)
    assert any(e.reason == "WorkerSignaled" for e in p.events)


def test_backoff_postpones_the_replacement_and_asks_to_come_back():
    j = job(restart={"backoffSeconds": 10, "maxBackoffSeconds": 100})
    pods = [
        running(worker_pod(j, UID, 0, 3)),
        running(worker_pod(j, UID, 1, 0)),
        failed(worker_pod(j, UID, 2, 0), 137, at=NOW - timedelta(seconds=5)),
    ]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running, restarts=3))  # 10 * 2**3 = 80 s backoff, plus jitter
    low, high = backoff_bounds(j.spec.restart, 3)
    assert "j-worker-2-4" not in names(p.create) and low - 5 <= p.requeue_after <= high - 5
    # Level-triggered: the same observation always asks for the same wait (seeded jitter).
    assert plan(j, pods, SeerJobStatus(phase=Phase.running, restarts=3)).requeue_after == p.requeue_after


@pytest.mark.parametrize("n, expected", [(0, 10), (1, 20), (3, 80), (4, 100), (50, 100)])
def test_backoff_doubles_and_is_capped(n, expected):
    assert backoff_bounds(job(restart={"backoffSeconds": 10, "maxBackoffSeconds": 100}).spec.restart, n)[0] == expected


def test_application_error_fails_and_stops_the_rest():
    j = job()
    pods = [failed(worker_pod(j, UID, 0, 0), 1), running(worker_pod(j, UID, 1, 0)), running(worker_pod(j, UID, 2, 0))]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running))
    assert p.status.phase == Phase.failed and p.status.condition("Failed").reason == "ApplicationError"
    assert sorted(d.name for d in p.delete) == ["j-rdzv", "j-worker-1-0", "j-worker-2-0"] and not p.create


def test_spent_budget_fails_the_job():
    j = job(restart={"maxRestarts": 1, "backoffSeconds": 0, "maxBackoffSeconds": 0})
    pods = [running(worker_pod(j, UID, 0, 0)), running(worker_pod(j, UID, 1, 0)), failed(worker_pod(j, UID, 2, 1), 143)]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running, restarts=1))
    assert p.status.phase == Phase.failed and p.status.condition("Failed").reason == "RestartBudgetSpent"


def test_cause_not_in_retry_on_is_fatal():
    j = job(restart={"retryOn": ["preemption"], "backoffSeconds": 0, "maxBackoffSeconds": 0})
    pods = [failed(worker_pod(j, UID, 0, 0), 137)]
    assert plan(j, pods).status.condition("Failed").reason == "SignaledNotRetried"


def test_restart_count_recovers_from_an_unrecorded_replacement():
    """Operator died after creating j-worker-2-1 but before writing restarts=1."""
    j = job(restart={"backoffSeconds": 0, "maxBackoffSeconds": 0})
    pods = [
        running(worker_pod(j, UID, 0, 0)),
        running(worker_pod(j, UID, 1, 0)),
        failed(worker_pod(j, UID, 2, 0), 137),
        worker_pod(j, UID, 2, 1),
    ]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running))
    assert p.status.restarts == 1 and not [
        m for m in p.create if m["kind"] == "Pod" and "worker" in m["metadata"]["name"]
    ]
    assert [d.name for d in p.delete] == ["j-worker-2-0"]


def test_suspend_deletes_workers_with_the_checkpoint_grace_period():
    j = job(suspend=True, checkpoint={"preemptionBudgetSeconds": 25})
    pods = [running(worker_pod(j, UID, s, 0)) for s in range(3)]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running))
    graces = {d.name: d.grace_seconds for d in p.delete}
    assert p.status.phase == Phase.suspended and not p.create
    assert graces == {"j-rdzv": None, "j-worker-0-0": 40, "j-worker-1-0": 40, "j-worker-2-0": 40}


def test_success_of_any_worker_completes_the_job_and_is_sticky():
    j = job()
    pods = [running(worker_pod(j, UID, 0, 0)), running(worker_pod(j, UID, 1, 0))]
    pods[0]["status"]["phase"] = "Succeeded"
    p = plan(j, pods, SeerJobStatus(phase=Phase.running))
    assert p.status.phase == Phase.succeeded and p.status.completion_time
    again = plan(j, [], p.status)
    assert again.status.phase == Phase.succeeded and not again.create


def test_conditions_flip_with_transitions():
    j = job()
    pods = [running(worker_pod(j, UID, s, 0)) for s in range(3)]
    first = plan(j, pods)
    assert first.status.condition("Running").status == "True"
    pods[0] = failed(pods[0], 137)
    pods[1]["status"]["conditions"][0]["status"] = "False"
    second = desired_children(j, UID, 1, first.status, observed(j, pods), NOW)
    assert second.status.phase == Phase.restarting
    assert (
        second.status.condition("Running").status == "False" and second.status.condition("Restarting").status == "True"
    )


# ------------------------------------------------------------------ one restart per failure event


def lost(p, at):
    """The node controller's view of a pod on a lost node (no container record)."""
    p["status"] = node_lost_status(at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return p


BUDGET_2 = {"restart": {"maxRestarts": 2, "backoffSeconds": 0, "maxBackoffSeconds": 0}}


@pytest.mark.parametrize(
    "offsets, restarts",
    [
        ((0, 0, 0), 1),  # one node (or switch) took three pods at once
        ((0, 10, 29), 1),  # within the window of the first failure: one event
        ((0, 31, 31), 2),  # a second event 31 s later
        ((0, 40, 80), 3),  # three separate events: over a budget of 2
    ],
)
def test_pods_failing_within_the_window_count_one_restart(offsets, restarts):
    j = job(**BUDGET_2)
    pods = [lost(worker_pod(j, UID, s, 0), NOW - timedelta(seconds=100 - off)) for s, off in enumerate(offsets)]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running))
    if restarts > 2:
        assert p.status.phase == Phase.failed and p.status.condition("Failed").reason == "RestartBudgetSpent"
        return
    assert p.status.restarts == restarts and p.status.phase != Phase.failed
    created = names(m for m in p.create if _labels_of(m).get("seer.dev/role") == "worker")
    assert len(created) == 3 and p.restart_causes == ("nodeLoss",) * 3  # the metric counts pods replaced
    # Level-triggered: the same observation plans the same thing again.
    assert names(plan(j, pods, SeerJobStatus(phase=Phase.running)).create) == names(p.create)


def _labels_of(m):
    return m["metadata"]["labels"]


def test_a_failure_seen_after_its_siblings_were_replaced_joins_their_event():
    """Slot 0 failed at t0 and was replaced (restart 1); slot 1's failure at t0 + 10 s is
    reported later: it is the same node failure, replaced as restart 1 too, budget untouched."""
    j = job(**BUDGET_2)
    t0 = NOW - timedelta(seconds=60)
    replacement = worker_pod(j, UID, 0, 1, failure_event=t0)
    pods = [replacement, lost(worker_pod(j, UID, 1, 0), t0 + timedelta(seconds=10)), running(worker_pod(j, UID, 2, 0))]
    p = plan(j, pods, SeerJobStatus(phase=Phase.restarting, restarts=1))
    assert "j-worker-1-1" in names(p.create) and p.status.restarts == 1 and p.restart_causes == ("nodeLoss",)
    # ...also after an operator restart that lost the status (restarts recovered from the suffix)
    again = plan(j, pods, SeerJobStatus(phase=Phase.restarting))
    assert "j-worker-1-1" in names(again.create) and again.status.restarts == 1


def test_a_failure_after_the_window_is_a_new_event_and_may_spend_the_budget():
    j = job(restart={"maxRestarts": 1, "backoffSeconds": 0, "maxBackoffSeconds": 0})
    t0 = NOW - timedelta(seconds=600)
    pods = [
        running(worker_pod(j, UID, 0, 1, failure_event=t0)),
        lost(worker_pod(j, UID, 1, 0), NOW - timedelta(seconds=5)),
        running(worker_pod(j, UID, 2, 0)),
    ]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running, restarts=1))
    assert p.status.phase == Phase.failed and p.status.condition("Failed").reason == "RestartBudgetSpent"


def test_replacements_record_their_failure_event():
    j = job(**BUDGET_2)
    at = NOW - timedelta(seconds=50)
    pods = [lost(worker_pod(j, UID, s, 0), at) for s in range(3)]
    created = [m for m in plan(j, pods).create if _labels_of(m).get("seer.dev/role") == "worker"]
    assert {m["metadata"]["annotations"]["seer.dev/failure-event"] for m in created} == {
        at.strftime("%Y-%m-%dT%H:%M:%SZ")
    }


def test_a_replacement_failing_again_within_the_window_is_a_new_event():
    """A crash loop: worker-0-1 was made for the event at t0 and fails 5 s later."""
    j = job(**BUDGET_2)
    t0 = NOW - timedelta(seconds=20)
    pods = [
        lost(worker_pod(j, UID, 0, 1, failure_event=t0), t0 + timedelta(seconds=5)),
        running(worker_pod(j, UID, 1, 0)),
        running(worker_pod(j, UID, 2, 0)),
    ]
    p = plan(j, pods, SeerJobStatus(phase=Phase.running, restarts=1))
    assert "j-worker-0-2" in names(p.create) and p.status.restarts == 2
