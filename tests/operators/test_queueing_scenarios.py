"""Kueue admission and gang scheduling end to end: the operator (kopf, in-process) against
the API emulator; the test plays Kueue (writes the Workload's status) and the kubelet."""

from __future__ import annotations

import kube_emulator
import pytest
from conftest import NS, wait_for
from kueue_fake import kueue_sets
from reconcile_barrier import next_full_round

pytestmark = pytest.mark.services

WORKLOAD = ("kueue.x-k8s.io", "v1beta1", "workloads")


@pytest.fixture
def scheduling_kinds(emulator):
    """Kueue's and the gang schedulers' CRDs, as installed in a cluster that runs them."""
    emulator.call(emulator.emulator.add_kind, kube_emulator.Kind(*WORKLOAD, "Workload", subresources=("status",)))
    emulator.call(
        emulator.emulator.add_kind, kube_emulator.Kind("scheduling.volcano.sh", "v1beta1", "podgroups", "PodGroup")
    )
    flavors = kube_emulator.Kind(*WORKLOAD[:2], "resourceflavors", "ResourceFlavor", namespaced=False)
    emulator.call(emulator.emulator.add_kind, flavors)


def _create_flavor(cluster, name, labels):
    body = {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor", "metadata": {"name": name}}
    body["spec"] = {"nodeLabels": labels}
    cluster.custom.create_cluster_custom_object(*WORKLOAD[:2], "resourceflavors", body)


def _workload(cluster, name):
    return next(
        (w for w in cluster.emulator.objects(WORKLOAD[0], WORKLOAD[2], NS) if w["metadata"]["name"] == name), None
    )


def _kueue_sets(cluster, name, conditions, admitted):
    """What Kueue writes: the conditions (type -> status) and, when it reserved quota, the admission."""
    kueue_sets(cluster, NS, name, conditions, admitted=admitted, flavors={"cpu": "spot", "memory": "spot"})


def _suspended_reason(cluster, name):
    status = cluster.status(name)
    cond = next((c for c in status.get("conditions") or [] if c["type"] == "Suspended"), {})
    return status.get("phase"), cond.get("reason")


def test_queued_job_runs_only_while_admitted_and_stops_with_a_checkpoint_when_evicted(
    cluster, scheduling_kinds, operator
):
    cluster.submit(
        "kappa",
        resources={"nodes": {"min": 1, "max": 2}, "cpu": "2", "memory": "4Gi"},
        checkpoint={"preemptionBudgetSeconds": 40},
        scheduling={"queue": "team-a"},
    )
    workload = wait_for(lambda: _workload(cluster, "kappa"), what="the Workload")
    assert workload["spec"]["queueName"] == "team-a"
    assert workload["metadata"]["ownerReferences"][0]["uid"] == cluster.job("kappa")["metadata"]["uid"]
    (pod_set,) = workload["spec"]["podSets"]
    assert (pod_set["name"], pod_set["count"], pod_set["minCount"]) == ("workers", 2, 1)
    assert pod_set["template"]["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}

    # Not admitted: rounds of reconciles later, still no pod of any kind.
    next_full_round("kappa")
    next_full_round("kappa")
    assert cluster.pods("kappa") == [] and cluster.pods("kappa", "rendezvous") == []
    assert _suspended_reason(cluster, "kappa") == ("Suspended", "WaitingForAdmission")

    _create_flavor(cluster, "spot", {"example.com/capacity": "spot"})
    _kueue_sets(cluster, "kappa", {"QuotaReserved": "True", "Admitted": "True"}, admitted=True)
    wait_for(lambda: len(cluster.pods("kappa")) == 2, what="workers once admitted")
    for pod in cluster.pods("kappa"):  # on the nodes of the flavor whose quota they were given
        assert pod["spec"]["nodeSelector"] == {"example.com/capacity": "spot"}
    cluster.run_all("kappa")
    wait_for(lambda: cluster.status("kappa").get("phase") == "Running", what="Running")
    wait_for(  # what Kueue's waitForPodsReady waits for
        lambda: (
            {c["type"]: c["status"] for c in _workload(cluster, "kappa")["status"]["conditions"]}.get("PodsReady")
            == "True"
        ),
        what="PodsReady on the Workload",
    )

    # Kueue preempts: the workers get the checkpoint grace period, exactly as for spec.suspend.
    _kueue_sets(cluster, "kappa", {"QuotaReserved": "True", "Admitted": "True", "Evicted": "True"}, admitted=True)
    wait_for(lambda: not cluster.pods("kappa") and not cluster.pods("kappa", "rendezvous"), what="pods stopped")
    wait_for(lambda: _suspended_reason(cluster, "kappa") == ("Suspended", "Evicted"), what="Suspended/Evicted")
    graces = [
        d["body"].get("gracePeriodSeconds")
        for d in cluster.emulator.emulator.deletions
        if d["name"].startswith("kappa-worker")
    ]
    assert graces == [55, 55]  # the checkpoint budget plus the shutdown margin
    released = wait_for(
        lambda: (
            (w := _workload(cluster, "kappa"))
            and "admission" not in w["status"]
            and {c["type"]: c["status"] for c in w["status"]["conditions"]}.get("QuotaReserved") == "False"
            and w
        ),
        what="the quota given back to Kueue",
    )
    assert {c["type"]: c["status"] for c in released["status"]["conditions"]}["Admitted"] == "False"
    next_full_round("kappa")
    assert cluster.pods("kappa") == []  # evicted: nothing comes back on its own

    # Readmitted: new workers (they resume from the final checkpoint: the suspend path's guarantee).
    _kueue_sets(cluster, "kappa", {"QuotaReserved": "True", "Admitted": "True", "Evicted": "False"}, admitted=True)
    wait_for(lambda: len(cluster.pods("kappa")) == 2, what="workers recreated")
    cluster.run_all("kappa")
    wait_for(lambda: cluster.status("kappa").get("phase") == "Running", what="Running again")
    assert cluster.status("kappa")["restarts"] == 0  # a preemption is not a failure

    cluster.exit_pod("kappa-worker-0-0", 0, reason="Completed")
    wait_for(lambda: cluster.status("kappa").get("phase") == "Succeeded", what="Succeeded")
    finished = wait_for(
        lambda: {c["type"]: c["status"] for c in _workload(cluster, "kappa")["status"]["conditions"]}.get("Finished"),
        what="the Workload finished",
    )
    assert finished == "True"


def test_gang_job_gets_a_pod_group_and_its_workers_join_it(cluster, scheduling_kinds, operator):
    cluster.submit("lamda", resources={"nodes": {"min": 2, "max": 3}}, scheduling={"gang": "volcano"})
    wait_for(lambda: len(cluster.pods("lamda")) == 3, what="3 workers")
    groups = cluster.emulator.objects("scheduling.volcano.sh", "podgroups", NS)
    assert [g["metadata"]["name"] for g in groups] == ["lamda-workers"]
    assert groups[0]["spec"]["minMember"] == 2
    assert groups[0]["metadata"]["ownerReferences"][0]["uid"] == cluster.job("lamda")["metadata"]["uid"]
    for pod in cluster.pods("lamda"):
        assert pod["spec"]["schedulerName"] == "volcano"
        assert pod["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "lamda-workers"
    assert "schedulerName" not in cluster.pods("lamda", "rendezvous")[0]["spec"]


def test_a_queued_job_resized_while_suspended_gets_a_new_workload(cluster, scheduling_kinds, operator):
    cluster.submit("mu", resources={"nodes": {"min": 2, "max": 2}}, scheduling={"queue": "team-a"})
    first = wait_for(lambda: _workload(cluster, "mu"), what="the Workload")
    assert first["spec"]["podSets"][0]["count"] == 2
    patch = {"spec": {"resources": {"nodes": {"min": 3, "max": 3}}}}  # nothing runs: not admitted yet
    cluster.custom.patch_namespaced_custom_object("seer.dev", "v1alpha1", NS, "seerjobs", "mu", patch)
    second = wait_for(
        lambda: (w := _workload(cluster, "mu")) and w["metadata"]["uid"] != first["metadata"]["uid"] and w,
        what="a new Workload",
    )
    assert second["spec"]["podSets"][0]["count"] == 3
    next_full_round("mu")
    assert cluster.pods("mu") == [] and _workload(cluster, "mu")["metadata"]["uid"] == second["metadata"]["uid"]
