"""Faults on a running multi-node job: real processes, real rendezvous, real recovery."""

from __future__ import annotations

import time

import pytest
from multinode_helpers import (  # noqa: F401 - fixtures
    REQUIRES_NODES,
    cluster_fixture,
    digits_fixture,
    interruption,
    job_spec,
    recovery,
    report,
    resumes,
    wait_for,
)

pytestmark = [pytest.mark.multinode, pytest.mark.slow, REQUIRES_NODES]


def rank0_pod(cluster, job: str) -> str:
    """The worker pod whose processes log as rank 0 (rank order is the rendezvous')."""
    pods = {r.pod for r in cluster.records(job) if r.rank == 0}
    assert len(pods) == 1, pods
    return pods.pop()


@pytest.mark.timeout(300)
def test_losing_rank0_node_keeps_training_and_the_replacement_rejoins(cluster, digits, tmp_path, record_property):
    interval, steps = 8, 40
    spec = job_spec(digits, tmp_path / "ckpt", nodes=(1, 2), max_steps=steps, interval=interval)
    cluster.submit("elastic", spec)
    # the fault comes right after a checkpoint commits: then at most one interval can be lost
    manifest = tmp_path / "ckpt" / f"step-{interval:08d}" / "manifest.json"
    wait_for(manifest.exists, 180, f"checkpoint of step {interval}", poll=0.05)
    victim = rank0_pod(cluster, "elastic")
    fault_at = time.time()
    lost = cluster.nodes.lose_node(victim)
    done = cluster.wait_phase("elastic", "Succeeded", timeout=240)

    records = cluster.records("elastic")
    recovery_s, steps_lost, first_after = recovery(records, fault_at)
    report("lose rank 0's node (min 1, max 2)", recovery_s, steps_lost, interval, record_property)
    assert steps_lost <= interval, "more than one checkpoint interval was lost"
    assert first_after > 1, "training restarted from scratch"
    assert any(step >= interval for _, _, step in resumes(cluster.logs("elastic")))
    assert done["restarts"] >= 1
    reasons = [e["reason"] for e in cluster.events("elastic")]
    assert "WorkerNodeLost" in reasons, reasons
    # the lost slot got a replacement pod, on another node, and it trained
    slot = victim.split("-")[-2]
    replacement = f"elastic-worker-{slot}-1"
    assert cluster.nodes.node_of(replacement).name != lost.name
    assert any(r.pod == replacement for r in records), f"{replacement} never trained"
    assert max(r.step for r in records) == steps


@pytest.mark.timeout(300)
def test_losing_the_rendezvous_pod_regroups_the_workers_from_a_final_checkpoint(
    cluster, digits, tmp_path, record_property
):
    interval, steps = 8, 40
    spec = job_spec(digits, tmp_path / "ckpt", nodes=(2, 2), max_steps=steps, interval=interval)
    cluster.submit("rdzvloss", spec)
    cluster.wait_step("rdzvloss", interval + 4)
    fault_at = time.time()
    lost = cluster.nodes.lose_node("rdzvloss-rdzv")
    done = cluster.wait_phase("rdzvloss", "Succeeded", timeout=240)

    records, logs = cluster.records("rdzvloss"), cluster.logs("rdzvloss")
    stall_s, redone = interruption(records, logs, fault_at)
    report("lose the rendezvous pod's node", stall_s, redone, interval, record_property, "stall; workers regroup")
    assert redone == 0, "the regroup should resume from the final checkpoint"
    assert max(r.step for r in records) == steps
    assert done["restarts"] == 1
    events = {e["reason"]: e["message"] for e in cluster.events("rdzvloss")}
    assert "RendezvousReplaced" in events and "WorkersRegrouping" in events, events
    assert cluster.nodes.node_of("rdzvloss-rdzv").name != lost.name  # the new store runs elsewhere
    assert {r.pod for r in records if r.time > fault_at + stall_s} == {"rdzvloss-worker-0-1", "rdzvloss-worker-1-1"}


#: torchrun's c10d rendezvous declares a node dead after 3 missed 5 s heartbeats.
RENDEZVOUS_KEEP_ALIVE_EXPIRY_S = 15


@pytest.mark.timeout(300)
def test_partitioned_node_longer_than_the_rendezvous_keep_alive_then_healed(cluster, digits, tmp_path, record_property):
    interval, steps = 8, 36
    spec = job_spec(digits, tmp_path / "ckpt", nodes=(1, 2), max_steps=steps, interval=interval)
    cluster.submit("split", spec)
    cluster.wait_step("split", interval + 4)
    seconds = RENDEZVOUS_KEEP_ALIVE_EXPIRY_S + 10
    fault_at = time.time()
    cluster.nodes.partition("split-worker-1-0", seconds)
    done = cluster.wait_phase("split", "Succeeded", timeout=240)

    records, logs = cluster.records("split"), cluster.logs("split")
    stall_s, redone = interruption(records, logs, fault_at)
    report(f"partition a worker's node for {seconds}s", stall_s, redone, interval, record_property, "stall")
    assert max(r.step for r in records) == steps
    assert redone <= interval
    assert stall_s >= seconds - 2, "training cannot go on while a peer is unreachable mid-collective"
    warnings = [(e["reason"], e["message"]) for e in cluster.events("split") if e["type"] == "Warning"]
    assert done["restarts"] == 0 and not warnings, warnings  # nothing failed: nothing to report
