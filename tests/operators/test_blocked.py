"""Workers that cannot start (no node fits, missing Secret, image pull) are reported and,
past ``restart.pendingTimeoutSeconds``, fail the job (issue: they stayed Pending forever)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from seer.operators.blocked import blocked_pod
from seer.operators.children import rendezvous_pod, rendezvous_service, worker_pod
from seer.operators.planning import Observed, desired_children
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.spec import SeerJob

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "u-1"


def job(**spec):
    return SeerJob.model_validate(
        {
            "metadata": {"name": "j", "namespace": "ml"},
            "spec": {"resources": {"nodes": {"min": 2, "max": 3}}, "storage": {"secretName": "s3-creds"}, **spec},
        }
    )


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def unschedulable(pod, since=NOW - timedelta(seconds=60)):
    pod["metadata"]["creationTimestamp"] = stamp(since)
    pod["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
                "lastTransitionTime": stamp(since),
            }
        ],
    }
    return pod


def missing_secret(pod, since=NOW - timedelta(seconds=60)):
    pod["metadata"]["creationTimestamp"] = stamp(since)
    pod["status"] = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [
            {
                "name": "trainer",
                "ready": False,
                "restartCount": 0,
                "state": {
                    "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "s3-creds" not found'}
                },
            }
        ],
    }
    return pod


def running(pod):
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return pod


def observed(j, workers):
    return Observed(pods=(running(rendezvous_pod(j, UID)), *workers), services=(rendezvous_service(j, UID),))


def plan(j, workers, prev=None, now=NOW):
    return desired_children(j, UID, 1, prev or SeerJobStatus(), observed(j, workers), now)


@pytest.mark.parametrize(
    "make, reason, words",
    [
        (unschedulable, "Unschedulable", ["0/4 nodes are available", "Insufficient nvidia.com/gpu"]),
        (missing_secret, "SecretNotFound", ["s3-creds", "spec.storage.secretName", "namespace ml"]),
    ],
)
def test_blocked_pod_names_its_reason(make, reason, words):
    found = blocked_pod(make(worker_pod(job(), UID, 0, 0)))
    assert found is not None and found.reason == reason
    assert all(w in found.message for w in words), found.message


def test_a_pending_pod_without_a_reason_is_not_blocked():
    pod = worker_pod(job(), UID, 0, 0)
    pod["status"] = {"phase": "Pending"}
    assert blocked_pod(pod) is None and blocked_pod(running(worker_pod(job(), UID, 1, 0))) is None


@pytest.mark.parametrize("make, reason", [(unschedulable, "Unschedulable"), (missing_secret, "SecretNotFound")])
def test_blocked_workers_give_a_condition_an_event_and_a_deadline(make, reason):
    j = job()
    p = plan(j, [make(worker_pod(j, UID, s, 0)) for s in range(3)])
    assert p.status.phase == Phase.pending
    cond = p.status.condition("WorkersBlocked")
    assert cond.status == "True" and cond.reason == reason and "j-worker-0-0" in cond.message
    assert [e.reason for e in p.events if e.type == "Warning"] == [reason]
    assert p.requeue_after == pytest.approx(900 - 60)  # the default pendingTimeoutSeconds, from the first block
    # the same observation again: no second Event (level-triggered, reported on change)
    assert not [e for e in plan(j, [make(worker_pod(j, UID, s, 0)) for s in range(3)], p.status).events]


def test_blocked_past_the_deadline_fails_the_job_and_stops_its_pods():
    j = job(restart={"pendingTimeoutSeconds": 120})
    workers = [missing_secret(worker_pod(j, UID, s, 0), since=NOW - timedelta(seconds=121)) for s in range(3)]
    p = plan(j, workers, SeerJobStatus(phase=Phase.pending))
    failed = p.status.condition("Failed")
    assert p.status.phase == Phase.failed and failed.reason == "PendingTimeout"
    assert "s3-creds" in failed.message and "restart.pendingTimeoutSeconds" in failed.message
    assert {d.name for d in p.delete} == {"j-rdzv", "j-worker-0-0", "j-worker-1-0", "j-worker-2-0"}


def test_an_elastic_job_running_on_min_nodes_is_not_failed_by_an_unschedulable_extra_node():
    j = job(restart={"pendingTimeoutSeconds": 120})
    workers = [
        running(worker_pod(j, UID, 0, 0)),
        running(worker_pod(j, UID, 1, 0)),
        unschedulable(worker_pod(j, UID, 2, 0), since=NOW - timedelta(hours=5)),
    ]
    p = plan(j, workers, SeerJobStatus(phase=Phase.running))
    assert p.status.phase == Phase.running and p.status.condition("WorkersBlocked").status == "True"


def test_the_condition_clears_once_the_workers_start():
    j = job()
    blocked = plan(j, [unschedulable(worker_pod(j, UID, s, 0)) for s in range(3)])
    cleared = plan(j, [running(worker_pod(j, UID, s, 0)) for s in range(3)], blocked.status)
    assert cleared.status.condition("WorkersBlocked").status == "False" and cleared.status.phase == Phase.running


def test_suspending_clears_the_blocked_condition():
    j = job()
    blocked = plan(j, [unschedulable(worker_pod(j, UID, s, 0)) for s in range(3)])
    suspended = plan(job(suspend=True), [unschedulable(worker_pod(j, UID, s, 0)) for s in range(3)], blocked.status)
    assert suspended.status.phase == Phase.suspended
    assert suspended.status.condition("WorkersBlocked").status == "False"
    assert suspended.status.condition("RendezvousReady").reason == "Suspended"
