"""An edited spec never reaches only some pods: the operator keeps a running group on the
spec its workers started with and says so (``SpecChangeRefused``); a suspended job takes
the edit for all its pods at once. (Issue: after nodes.max 2 -> 3 the old pods ran
``--nnodes 1:2`` and the new one ``1:3``.)"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import NS, wait_for
from reconcile_barrier import next_full_round

from seer.operators.children import rendezvous_pod, rendezvous_service, worker_pod
from seer.operators.planning import Observed, desired_children
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.spec import SeerJob

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "u-1"
FAST = {"backoffSeconds": 0, "maxBackoffSeconds": 0}


def job(nodes_max=2, prototypes=3000, suspend=False):
    return SeerJob.model_validate(
        {
            "metadata": {"name": "j"},
            "spec": {
                "resources": {"nodes": {"min": 1, "max": nodes_max}},
                "swav": {"numPrototypes": prototypes},
                "restart": FAST,
                "suspend": suspend,
            },
        }
    )


def running(pod):
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return pod


def evicted(pod):
    pod["status"] = {
        "phase": "Failed",
        "reason": "Evicted",
        "conditions": [
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "EvictionByEvictionAPI",
                "lastTransitionTime": (NOW - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ],
    }
    return pod


def plan(edited, pods, prev=None):
    original = job()
    observed = Observed(
        pods=(running(rendezvous_pod(original, UID)), *pods), services=(rendezvous_service(original, UID),)
    )
    return desired_children(edited, UID, 2, prev or SeerJobStatus(phase=Phase.running), observed, NOW)


def spec_of(pod):
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    return SeerJob.model_validate(json.loads(env["SEER_JOB_SPEC"]))


def test_nodes_max_edit_of_a_running_job_is_refused_and_reported():
    pods = [running(worker_pod(job(), UID, s, 0)) for s in range(2)]
    p = plan(job(nodes_max=3), pods)
    assert not [m for m in p.create if m["kind"] == "Pod"] and not p.delete  # no third pod with --nnodes 1:3
    cond = p.status.condition("SpecChangeRefused")
    assert cond.status == "True" and "spec.resources" in cond.message and "suspend" in cond.message
    assert "SpecChangeRefused" in [e.reason for e in p.events]
    assert p.status.nodes_desired == 2
    again = plan(job(nodes_max=3), pods, p.status)  # reported once, not every reconcile
    assert "SpecChangeRefused" not in [e.reason for e in again.events]


def test_a_replacement_in_a_refused_group_runs_the_spec_of_the_group():
    pods = [running(worker_pod(job(), UID, 0, 0)), evicted(worker_pod(job(), UID, 1, 0))]
    p = plan(job(prototypes=1000), pods)
    replacement = next(m for m in p.create if m["metadata"]["name"] == "j-worker-1-1")
    assert spec_of(replacement).spec.swav.num_prototypes == 3000
    assert replacement["metadata"]["annotations"]["seer.dev/spec-hash"] == job().spec_hash()


def test_suspended_job_takes_the_edit_for_every_pod_on_resume():
    suspended = plan(job(nodes_max=3, suspend=True), [running(worker_pod(job(), UID, s, 0)) for s in range(2)])
    assert suspended.status.phase == Phase.suspended and suspended.status.condition("SpecChangeRefused") is None
    resumed = desired_children(job(nodes_max=3), UID, 3, suspended.status, Observed(), NOW)
    workers = [m for m in resumed.create if "worker" in m["metadata"]["name"]]
    assert len(workers) == 3 and all(spec_of(w).spec.resources.nodes.max == 3 for w in workers)


def test_the_condition_clears_when_the_edit_is_reverted():
    pods = [running(worker_pod(job(), UID, s, 0)) for s in range(2)]
    refused = plan(job(nodes_max=3), pods)
    reverted = plan(job(), pods, refused.status)
    assert reverted.status.condition("SpecChangeRefused").status == "False"


@pytest.mark.services
def test_edit_of_a_running_job_through_the_api_is_refused_by_the_operator(cluster, operator):
    """The emulator admits what the CRD's CEL rule would refuse (no admission there): the
    operator's own refusal is what a cluster without the rule sees."""
    cluster.submit("nu", resources={"nodes": {"min": 1, "max": 2}})
    wait_for(lambda: len(cluster.pods("nu")) == 2)
    cluster.run_all("nu")
    wait_for(lambda: cluster.status("nu").get("phase") == "Running")
    cluster.custom.patch_namespaced_custom_object(
        "seer.dev", "v1alpha1", NS, "seerjobs", "nu", {"spec": {"resources": {"nodes": {"min": 1, "max": 3}}}}
    )
    refused = wait_for(
        lambda: next((c for c in cluster.status("nu").get("conditions", []) if c["type"] == "SpecChangeRefused"), None),
        what="SpecChangeRefused",
    )
    assert refused["status"] == "True" and "spec.resources" in refused["message"]
    next_full_round("nu")
    assert [p["metadata"]["name"] for p in cluster.pods("nu")] == ["nu-worker-0-0", "nu-worker-1-0"]
    assert cluster.status("nu")["nodesDesired"] == 2 and cluster.status("nu")["phase"] == "Running"
    assert "SpecChangeRefused" in {e["reason"] for e in cluster.events("nu")}
