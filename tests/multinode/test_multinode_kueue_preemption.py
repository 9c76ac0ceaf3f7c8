"""Kueue preempts a running job: every node writes a final checkpoint, and when Kueue readmits
the job it resumes from exactly that step (zero lost steps). Real trainer processes on emulated
nodes; the test plays Kueue by writing the job's Workload status."""

from __future__ import annotations

import json
import time

import kube_emulator
import pytest
from kueue_fake import kueue_sets
from multinode_helpers import REQUIRES_NODES, cluster_fixture, digits_fixture, job_spec, report, resumes  # noqa: F401 - fixtures
from polling import wait_until

pytestmark = [pytest.mark.multinode, pytest.mark.slow, REQUIRES_NODES]

KUEUE = ("kueue.x-k8s.io", "v1beta1")
NS = "default"


def _kueue_sets(cluster, name: str, conditions: dict[str, str], admitted: bool) -> None:
    kueue_sets(cluster, NS, name, conditions, admitted=admitted)


def _workload(cluster, name: str):
    return next((w for w in cluster.emulator.objects(KUEUE[0], "workloads", NS) if w["metadata"]["name"] == name), None)


@pytest.mark.timeout(300)
def test_kueue_preemption_checkpoints_every_node_and_readmission_resumes_there(
    cluster, digits, tmp_path, record_property
):
    kind = kube_emulator.Kind(*KUEUE, "workloads", "Workload", subresources=("status",))
    cluster.emulator.call(cluster.emulator.emulator.add_kind, kind)
    interval, steps = 50, 30  # no periodic checkpoint before the preemption: the final one is all there is
    ckpt = tmp_path / "ckpt"
    spec = job_spec(digits, ckpt, nodes=(2, 2), max_steps=steps, interval=interval)
    cluster.submit("preempt", {**spec, "scheduling": {"queue": "team-a"}})
    wait_until(lambda: _workload(cluster, "preempt"), 60, "the Workload")
    _kueue_sets(cluster, "preempt", {"QuotaReserved": "True", "Admitted": "True"}, admitted=True)
    cluster.wait_step("preempt", 10)

    _kueue_sets(cluster, "preempt", {"QuotaReserved": "True", "Admitted": "True", "Evicted": "True"}, admitted=True)
    cluster.wait_phase("preempt", "Suspended", timeout=120)
    cluster.nodes.wait_all_exited("preempt-worker-", timeout=120)
    reached = max(r.step for r in cluster.records("preempt"))
    final = ckpt / f"step-{reached:08d}"
    assert (final / "manifest.json").exists(), f"no final checkpoint for step {reached}: {sorted(ckpt.iterdir())}"
    for worker in ("preempt-worker-0-0", "preempt-worker-1-0"):
        assert "exit 75" in cluster.nodes.log(worker), f"{worker} did not stop after a final checkpoint"
    assert {p.name.split("_")[2] for p in final.glob("__*_*.distcp")} == {"0", "1"}  # a shard from each node
    assert json.loads((final / "manifest.json").read_text())["world_size"] == 2
    wait_until(lambda: "admission" not in (_workload(cluster, "preempt").get("status") or {}), 60, "quota given back")

    readmitted_at = time.time()
    _kueue_sets(cluster, "preempt", {"QuotaReserved": "True", "Admitted": "True", "Evicted": "False"}, admitted=True)
    cluster.wait_phase("preempt", "Succeeded", timeout=240)
    starts = sorted({step for at, _, step in resumes(cluster.logs("preempt")) if at > readmitted_at})
    assert starts == [reached], f"resumed from {starts}, the final checkpoint was step {reached}"
    after = [r for r in cluster.records("preempt") if r.time > readmitted_at]
    assert min(r.step for r in after) == reached + 1  # zero lost steps
    assert cluster.status("preempt")["restarts"] == 0
    finished = {c["type"]: c["status"] for c in _workload(cluster, "preempt")["status"]["conditions"]}
    assert finished["Finished"] == "True"
    report(
        "Kueue preemption, readmission",
        after[0].time - readmitted_at,
        reached - starts[0],
        interval,
        record_property,
        "from readmission",
    )
