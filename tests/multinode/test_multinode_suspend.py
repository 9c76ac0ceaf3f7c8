"""Suspend writes a final checkpoint on every node; resume continues from exactly that step,
here on a different number of nodes."""

from __future__ import annotations

import json
import time

import pytest
from multinode_helpers import REQUIRES_NODES, cluster_fixture, digits_fixture, job_spec, report, resumes  # noqa: F401 - fixtures

pytestmark = [pytest.mark.multinode, pytest.mark.slow, REQUIRES_NODES]


@pytest.mark.timeout(300)
def test_suspend_checkpoints_every_node_and_resumes_on_fewer_nodes(cluster, digits, tmp_path, record_property):
    interval, steps = 50, 30  # no periodic checkpoint before the suspension: the final one is all there is
    ckpt = tmp_path / "ckpt"
    cluster.submit("pause", job_spec(digits, ckpt, nodes=(2, 2), max_steps=steps, interval=interval))
    cluster.wait_step("pause", 10)
    cluster.patch_spec("pause", {"suspend": True})
    cluster.wait_phase("pause", "Suspended", timeout=120)
    cluster.nodes.wait_all_exited("pause-worker-", timeout=120)
    reached = max(r.step for r in cluster.records("pause"))
    final = ckpt / f"step-{reached:08d}"
    assert (final / "manifest.json").exists(), f"no final checkpoint for step {reached}: {sorted(ckpt.iterdir())}"
    for worker in ("pause-worker-0-0", "pause-worker-1-0"):
        assert "exit 75" in cluster.nodes.log(worker), f"{worker} did not stop after a final checkpoint"
    assert json.loads((final / "manifest.json").read_text())["world_size"] == 2
    assert {p.name.split("_")[2] for p in final.glob("__*_*.distcp")} == {"0", "1"}  # a shard from each node

    resumed_at = time.time()
    cluster.patch_spec("pause", {"suspend": False, "resources": {"nodes": {"min": 1, "max": 1}}})
    cluster.wait_phase("pause", "Succeeded", timeout=240)
    after = [r for r in cluster.records("pause") if r.time > resumed_at]
    starts = [step for at, _, step in resumes(cluster.logs("pause")) if at > resumed_at]
    assert starts == [reached], f"resumed from {starts}, the final checkpoint was step {reached}"
    assert {r.pod for r in after} == {"pause-worker-0-0"} or all("-worker-0-" in r.pod for r in after)
    assert after[0].step == reached + 1 and max(r.step for r in after) >= reached + 1
    report(
        "suspend, resume on 1 node instead of 2",
        after[0].time - resumed_at,
        reached - starts[0],
        interval,
        record_property,
        "from resume request",
    )
