"""A lost rendezvous pod: the store is recreated and the workers regroup from a final checkpoint.

Why (measured in tests/multinode): torchrun agents keep their connection to the dead store,
so without a regroup a finished job never exits and a later peer loss cannot re-rendezvous."""

from __future__ import annotations

from datetime import datetime, timezone

from seer.operators.children import rendezvous_pod, rendezvous_service, worker_pod
from seer.operators.planning import Observed, desired_children
from seer.platform.kube.status import SeerJobStatus
from seer.platform.spec import SeerJob

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "u-1"
JOB = SeerJob.model_validate({"metadata": {"name": "j"}, "spec": {"resources": {"nodes": {"min": 1, "max": 2}}}})


def _running(pod):
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return pod


def _plan(rdzv_status):
    rdzv = rendezvous_pod(JOB, UID)
    rdzv["status"] = rdzv_status
    workers = [_running(worker_pod(JOB, UID, slot, 0)) for slot in range(2)]
    observed = Observed(pods=(rdzv, *workers), services=(rendezvous_service(JOB, UID),))
    return desired_children(JOB, UID, 1, SeerJobStatus(), observed, NOW)


def test_lost_rendezvous_pod_regroups_every_worker_with_the_checkpoint_grace_and_counts_one_restart():
    plan = _plan({"phase": "Failed", "reason": "NodeLost"})
    deleted = {d.name: d.grace_seconds for d in plan.delete}
    assert deleted == {"j-rdzv": None, "j-worker-0-0": 40, "j-worker-1-0": 40}  # 25 s budget + 15 s margin
    assert plan.status.restarts == 1 and not plan.create  # replacements come once the old pods are gone
    reasons = [e.reason for e in plan.events]
    assert "RendezvousReplaced" in reasons and "WorkersRegrouping" in reasons


def test_running_rendezvous_pod_leaves_the_workers_alone():
    plan = _plan({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    assert not plan.delete and plan.status.restarts == 0
    assert "WorkersRegrouping" not in [e.reason for e in plan.events]


def _workers_created_at(stamp: str) -> list[dict]:
    workers = [_running(worker_pod(JOB, UID, slot, 0)) for slot in range(2)]
    for pod in workers:
        pod["metadata"]["creationTimestamp"] = stamp
    return workers


def test_rendezvous_pod_gone_while_workers_run_is_recreated_with_an_event_a_condition_and_a_regroup():
    """Deleted by hand or by the pod garbage collector after a node loss: no Failed pod to see."""
    running = SeerJobStatus.model_validate({"phase": "Running"})
    observed = Observed(
        pods=tuple(_workers_created_at("2025-01-01T11:00:00Z")), services=(rendezvous_service(JOB, UID),)
    )
    plan = desired_children(JOB, UID, 1, running, observed, NOW)
    assert [m["metadata"]["name"] for m in plan.create] == ["j-rdzv"]
    assert {d.name for d in plan.delete} == {"j-worker-0-0", "j-worker-1-0"} and plan.status.restarts == 1
    assert {"RendezvousReplaced", "WorkersRegrouping"} <= {e.reason for e in plan.events}
    cond = plan.status.condition("RendezvousReady")
    assert cond.status == "False" and cond.reason == "RendezvousReplaced"


def test_workers_older_than_the_replacement_store_regroup_once():
    """The new store pod exists (created after the workers): the workers still talk to the dead one."""
    rdzv = rendezvous_pod(JOB, UID)
    rdzv["metadata"]["creationTimestamp"] = "2025-01-01T11:30:00Z"
    observed = Observed(
        pods=(rdzv, *_workers_created_at("2025-01-01T11:00:00Z")), services=(rendezvous_service(JOB, UID),)
    )
    plan = desired_children(JOB, UID, 1, SeerJobStatus.model_validate({"phase": "Running"}), observed, NOW)
    assert {d.name for d in plan.delete} == {"j-worker-0-0", "j-worker-1-0"} and plan.status.restarts == 1
    # Workers created after the store (the regrouped ones) are left alone.
    newer = Observed(
        pods=(rdzv, *_workers_created_at("2025-01-01T11:31:00Z")), services=(rendezvous_service(JOB, UID),)
    )
    assert not desired_children(JOB, UID, 1, plan.status, newer, NOW).delete


def test_store_container_restarted_in_place_regroups_the_workers_started_before():
    rdzv = _running(rendezvous_pod(JOB, UID))
    rdzv["metadata"]["creationTimestamp"] = "2025-01-01T10:00:00Z"
    rdzv["status"]["containerStatuses"] = [
        {
            "name": "rendezvous",
            "restartCount": 1,
            "lastState": {"terminated": {"exitCode": 137, "finishedAt": "2025-01-01T11:30:00Z"}},
        }
    ]
    observed = Observed(
        pods=(rdzv, *_workers_created_at("2025-01-01T11:00:00Z")), services=(rendezvous_service(JOB, UID),)
    )
    plan = desired_children(JOB, UID, 1, SeerJobStatus.model_validate({"phase": "Running"}), observed, NOW)
    assert {d.name for d in plan.delete} == {"j-worker-0-0", "j-worker-1-0"}
    assert "RendezvousReplaced" in {e.reason for e in plan.events}


def test_ready_store_reports_rendezvous_ready():
    plan = _plan({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    assert plan.status.condition("RendezvousReady").status == "True"
