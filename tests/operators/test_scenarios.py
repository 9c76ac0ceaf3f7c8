"""The operator end to end against the Kubernetes emulator: one test per scenario."""

from __future__ import annotations

import kopf.testing
import pytest
from conftest import NS, OPERATOR_ARGS, node_lost_status, trainer_status, wait_for
from reconcile_barrier import current_reconciler, next_full_round, wait_for_operator_start

pytestmark = pytest.mark.services

FAST_RESTARTS = {"restart": {"backoffSeconds": 0, "maxBackoffSeconds": 0, "maxRestarts": 2}}


def _names(pods):
    return [p["metadata"]["name"] for p in pods]


def test_created_job_gets_workers_rendezvous_service_and_running_status(cluster, operator):
    cluster.submit("alpha", resources={"nodes": {"min": 2, "max": 2}})
    wait_for(lambda: len(cluster.pods("alpha")) == 2, what="2 worker pods")
    assert _names(cluster.pods("alpha")) == ["alpha-worker-0-0", "alpha-worker-1-0"]
    assert _names(cluster.pods("alpha", "rendezvous")) == ["alpha-rdzv"]
    service = wait_for(lambda: cluster.services("alpha"), what="rendezvous service")[0]
    assert service["spec"]["clusterIP"] == "None"
    job_uid = cluster.job("alpha")["metadata"]["uid"]
    for pod in cluster.pods("alpha") + cluster.pods("alpha", "rendezvous") + [service]:
        assert pod["metadata"]["ownerReferences"][0]["uid"] == job_uid
    assert wait_for(lambda: cluster.status("alpha").get("phase"), what="a phase") == "Pending"
    cluster.run_all("alpha")
    wait_for(lambda: cluster.status("alpha").get("phase") == "Running", what="Running")
    status = cluster.status("alpha")
    assert (status["nodesReady"], status["nodesDesired"], status["restarts"]) == (2, 2, 0)
    assert status["startTime"] and status["observedGeneration"] == 1


def test_evicted_worker_is_replaced_and_counts_a_restart(cluster, operator):
    cluster.submit("beta", resources={"nodes": {"min": 2, "max": 2}}, **FAST_RESTARTS)
    wait_for(lambda: len(cluster.pods("beta")) == 2)
    cluster.run_all("beta")
    wait_for(lambda: cluster.status("beta").get("phase") == "Running")
    cluster.evict_pod("beta-worker-1-0")
    wait_for(lambda: "beta-worker-1-1" in _names(cluster.pods("beta")), what="replacement pod")
    wait_for(lambda: "beta-worker-1-0" not in _names(cluster.pods("beta")), what="evicted pod removed")
    next_full_round("beta")  # the status is written after the pods change: read it after a whole round
    assert cluster.status("beta")["restarts"] == 1
    assert cluster.status("beta")["phase"] == "Restarting"
    cluster.run_pod("beta-worker-1-1")
    wait_for(lambda: cluster.status("beta").get("phase") == "Running", what="Running again")
    assert cluster.status("beta")["restarts"] == 1
    reasons = [e["reason"] for e in cluster.events("beta")]
    assert "WorkerEvicted" in reasons


def test_application_error_fails_the_job_with_its_reason(cluster, operator):
    cluster.submit("gamma", resources={"nodes": {"min": 2, "max": 2}}, **FAST_RESTARTS)
    wait_for(lambda: len(cluster.pods("gamma")) == 2)
    cluster.run_all("gamma")
    cluster.exit_pod("gamma-worker-0-0", 1)
    wait_for(lambda: cluster.status("gamma").get("phase") == "Failed", what="Failed")
    failed = next(c for c in cluster.status("gamma")["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "ApplicationError" and "exited with code 1" in failed["message"]
    assert cluster.status("gamma")["restarts"] == 0 and cluster.status("gamma")["completionTime"]
    # the surviving worker and the rendezvous pod are stopped; the failed pod stays for its logs
    wait_for(lambda: _names(cluster.pods("gamma")) == ["gamma-worker-0-0"], what="survivor stopped")


def test_spent_restart_budget_fails_the_job(cluster, operator):
    cluster.submit("delta", **FAST_RESTARTS)
    wait_for(lambda: cluster.pods("delta"))
    for attempt in range(3):  # 2 restarts allowed: the third failure ends it
        name = f"delta-worker-0-{attempt}"
        wait_for(lambda: name in _names(cluster.pods("delta")), what=name)  # noqa: B023 - called within the iteration
        cluster.run_pod(name)
        cluster.exit_pod(name, 137)
    wait_for(lambda: cluster.status("delta").get("phase") == "Failed", what="Failed")
    failed = next(c for c in cluster.status("delta")["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "RestartBudgetSpent" and cluster.status("delta")["restarts"] == 2


def test_elastic_job_keeps_running_above_min_nodes(cluster, operator):
    cluster.submit("eps", resources={"nodes": {"min": 2, "max": 3}}, **FAST_RESTARTS)
    wait_for(lambda: len(cluster.pods("eps")) == 3)
    cluster.run_all("eps")
    wait_for(lambda: cluster.status("eps").get("nodesReady") == 3)
    cluster.evict_pod("eps-worker-2-0")  # its replacement will stay Pending (no node for it)
    wait_for(lambda: "eps-worker-2-1" in _names(cluster.pods("eps")))
    wait_for(lambda: cluster.status("eps").get("nodesReady") == 2)
    status = cluster.status("eps")
    assert status["phase"] == "Running" and status["nodesDesired"] == 3 and status["restarts"] == 1


def test_suspend_stops_workers_gracefully_and_resume_recreates_them(cluster, operator):
    cluster.submit("zeta", resources={"nodes": {"min": 1, "max": 2}}, checkpoint={"preemptionBudgetSeconds": 40})
    wait_for(lambda: len(cluster.pods("zeta")) == 2)
    cluster.run_all("zeta")
    wait_for(lambda: cluster.status("zeta").get("phase") == "Running")
    cluster.custom.patch_namespaced_custom_object(
        "seer.dev", "v1alpha1", NS, "seerjobs", "zeta", {"spec": {"suspend": True}}
    )
    wait_for(lambda: not cluster.pods("zeta") and not cluster.pods("zeta", "rendezvous"), what="workers stopped")
    wait_for(lambda: cluster.status("zeta").get("phase") == "Suspended")
    graces = [
        d["body"].get("gracePeriodSeconds")
        for d in cluster.emulator.emulator.deletions
        if d["name"].startswith("zeta-worker")
    ]
    assert graces == [55, 55]  # the checkpoint budget plus the shutdown margin
    cluster.custom.patch_namespaced_custom_object(
        "seer.dev", "v1alpha1", NS, "seerjobs", "zeta", {"spec": {"suspend": False}}
    )
    wait_for(lambda: len(cluster.pods("zeta")) == 2, what="workers recreated")
    cluster.run_all("zeta")
    wait_for(lambda: cluster.status("zeta").get("phase") == "Running")
    assert cluster.status("zeta")["restarts"] == 0


def test_deleting_the_job_removes_its_children(cluster, operator):
    cluster.submit("eta")
    wait_for(lambda: cluster.pods("eta") and cluster.services("eta"))
    cluster.custom.delete_namespaced_custom_object("seer.dev", "v1alpha1", NS, "seerjobs", "eta")
    wait_for(lambda: cluster.job("eta") is None, what="job gone (finalizer released)")
    assert not cluster.pods("eta") and not cluster.pods("eta", "rendezvous") and not cluster.services("eta")


def test_operator_restart_mid_flight_creates_no_duplicates(cluster, kubeconfig):
    with kopf.testing.KopfRunner(OPERATOR_ARGS, timeout=30):
        cluster.submit("theta", resources={"nodes": {"min": 3, "max": 3}}, **FAST_RESTARTS)
        wait_for(lambda: len(cluster.pods("theta")) == 3)
    cluster.run_all("theta")
    with kopf.testing.KopfRunner(OPERATOR_ARGS, timeout=30) as runner:
        wait_for(lambda: cluster.status("theta").get("phase") == "Running")
        cluster.evict_pod("theta-worker-0-0")
        wait_for(lambda: cluster.status("theta").get("restarts") == 1)
    assert runner.exception is None
    previous = current_reconciler()
    with kopf.testing.KopfRunner(OPERATOR_ARGS, timeout=30):
        wait_for_operator_start(previous)
        wait_for(lambda: cluster.status("theta").get("observedGeneration") == 1)
        next_full_round("theta")  # a whole round of the restarted operator: it must create nothing new
    names = _names(cluster.pods("theta"))
    assert sorted(names) == ["theta-worker-0-1", "theta-worker-1-0", "theta-worker-2-0"]
    assert len(cluster.pods("theta", "rendezvous")) == 1 and len(cluster.services("theta")) == 1
    assert cluster.status("theta")["restarts"] == 1


@pytest.mark.slow
def test_fifty_jobs_at_once_are_all_reconciled(cluster, operator):
    for i in range(50):
        cluster.submit(f"many-{i}", resources={"nodes": {"min": 1, "max": 2}})
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in cluster.emulator.objects("", "pods", NS)
                    if p["metadata"]["labels"]["seer.dev/role"] == "worker"
                ]
            )
            == 100
        ),
        timeout=120,
        what="100 worker pods",
    )
    for i in range(50):
        wait_for(lambda: cluster.status(f"many-{i}").get("phase") == "Pending", what=f"status of many-{i}")  # noqa: B023 - called within the iteration
    names = [p["metadata"]["name"] for p in cluster.emulator.objects("", "pods", NS)]
    assert len(names) == len(set(names)) == 150  # 2 workers + 1 rendezvous pod each, no duplicates


def test_deleted_rendezvous_pod_is_reported_and_the_workers_regroup_once(cluster, operator):
    cluster.submit("iota", resources={"nodes": {"min": 1, "max": 1}}, **FAST_RESTARTS)
    wait_for(lambda: cluster.pods("iota") and cluster.pods("iota", "rendezvous"))
    cluster.run_all("iota")
    wait_for(lambda: cluster.status("iota").get("phase") == "Running")
    cluster.core.delete_namespaced_pod("iota-rdzv", NS)  # as the pod GC does after a node loss
    wait_for(lambda: "iota-worker-0-1" in _names(cluster.pods("iota")), what="regrouped worker")
    wait_for(lambda: cluster.pods("iota", "rendezvous"), what="new store pod")
    next_full_round("iota")
    status = cluster.status("iota")
    store = next(c for c in status["conditions"] if c["type"] == "RendezvousReady")
    assert (store["status"], store["reason"]) == ("False", "RendezvousReplaced") and status["restarts"] == 1
    assert {"RendezvousReplaced", "WorkersRegrouping"} <= {e["reason"] for e in cluster.events("iota")}
    cluster.run_all("iota")
    wait_for(lambda: cluster.status("iota").get("phase") == "Running", what="Running again")
    next_full_round("iota")
    store = next(c for c in cluster.status("iota")["conditions"] if c["type"] == "RendezvousReady")
    assert store["status"] == "True" and cluster.status("iota")["restarts"] == 1
    assert _names(cluster.pods("iota")) == ["iota-worker-0-1"]


def test_one_node_failure_taking_three_workers_costs_one_restart(cluster, operator):
    cluster.submit("kappa", resources={"nodes": {"min": 3, "max": 3}}, **FAST_RESTARTS)  # maxRestarts: 2
    wait_for(lambda: len(cluster.pods("kappa")) == 3)
    cluster.run_all("kappa")
    wait_for(lambda: cluster.status("kappa").get("phase") == "Running")
    for slot, second in enumerate(("00", "04", "09")):  # one switch failure, reported pod by pod
        cluster.set_pod_status(f"kappa-worker-{slot}-0", node_lost_status(f"2020-01-01T00:00:{second}Z"))
        wait_for(lambda: f"kappa-worker-{slot}-1" in _names(cluster.pods("kappa")), what=f"replacement {slot}")  # noqa: B023
    next_full_round("kappa")
    status = cluster.status("kappa")
    assert status["phase"] != "Failed" and status["restarts"] == 1
    assert _names(cluster.pods("kappa")) == ["kappa-worker-0-1", "kappa-worker-1-1", "kappa-worker-2-1"]


def test_missing_secret_is_reported_on_the_job_not_just_the_pod(cluster, operator):
    cluster.submit("lam", resources={"nodes": {"min": 1, "max": 1}}, storage={"secretName": "nope"})
    wait_for(lambda: cluster.pods("lam"))
    cluster.set_pod_status(  # what the kubelet reports when the Secret does not exist
        "lam-worker-0-0",
        {
            "phase": "Pending",
            "containerStatuses": [
                trainer_status(
                    {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "nope" not found'}}
                )
            ],
        },
    )
    blocked = wait_for(
        lambda: next((c for c in cluster.status("lam").get("conditions", []) if c["type"] == "WorkersBlocked"), None),
        what="WorkersBlocked condition",
    )
    assert blocked["status"] == "True" and blocked["reason"] == "SecretNotFound" and "nope" in blocked["message"]
    assert cluster.status("lam")["phase"] == "Pending"
    event = wait_for(lambda: [e for e in cluster.events("lam") if e["reason"] == "SecretNotFound"], what="event")[0]
    assert "Secret nope" in event["message"] and event["type"] == "Warning"


def test_unschedulable_worker_fails_the_job_after_the_pending_timeout(cluster, operator):
    cluster.submit("mu", resources={"nodes": {"min": 1, "max": 1}}, restart={"pendingTimeoutSeconds": 60})
    wait_for(lambda: cluster.pods("mu"))
    cluster.set_pod_status(  # the scheduler gave up on it long ago: the deadline has passed
        "mu-worker-0-0",
        {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                    "lastTransitionTime": "2020-01-01T00:00:00Z",
                }
            ],
        },
    )
    wait_for(lambda: cluster.status("mu").get("phase") == "Failed", what="Failed")
    failed = next(c for c in cluster.status("mu")["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "PendingTimeout" and "Insufficient nvidia.com/gpu" in failed["message"]
    assert "Unschedulable" in {e["reason"] for e in cluster.events("mu")}
