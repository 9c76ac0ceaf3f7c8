"""Kueue admission and gang scheduling in the reconcile decision (pure; no API server)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from seer.operators.children import grace_period_seconds, rendezvous_pod, rendezvous_service, worker_pod
from seer.operators.gang import min_resources
from seer.operators.planning import Observed, desired_children, observed_kinds
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.spec import SeerJob

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "u-1"


def job(nodes=(2, 3), **scheduling):
    return SeerJob.model_validate(
        {
            "metadata": {"name": "j"},
            "spec": {
                "resources": {"nodes": {"min": nodes[0], "max": nodes[1]}, "cpu": "8", "memory": "16Gi"},
                "checkpoint": {"preemptionBudgetSeconds": 40},
                "scheduling": scheduling,
            },
        }
    )


def running(pod):
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return pod


def workload(conditions=(), active=True, admission=True, of=None):
    """The Workload the operator made for ``of`` (default: ``job(queue="q")``), with Kueue's status."""
    made = desired_children(of or job(queue="q"), UID, 1, SeerJobStatus(), Observed(), NOW).create[0]
    status = {"conditions": [{"type": t, "status": s, "reason": t, "message": f"{t} {s}"} for t, s in conditions]}
    if admission and ("Admitted", "True") in conditions:
        status["admission"] = {"clusterQueue": "cq"}
    return {**made, "spec": {**made["spec"], "active": active}, "status": status}


ADMITTED = workload([("QuotaReserved", "True"), ("Admitted", "True")])
EVICTED = workload([("QuotaReserved", "True"), ("Admitted", "True"), ("Evicted", "True")])
READMITTED = workload([("QuotaReserved", "True"), ("Admitted", "True"), ("Evicted", "False")])
QUEUED = workload([("QuotaReserved", "False")])


def all_pods(j):
    return tuple(running(worker_pod(j, UID, s, 0)) for s in range(3)) + (running(rendezvous_pod(j, UID)),)


def decide(j, pods=(), workloads=(), prev=None, groups=()):
    services = (rendezvous_service(j, UID),) if pods else ()
    observed = Observed(pods=pods, services=services, workloads=workloads, pod_groups=groups)
    return desired_children(j, UID, 1, prev or SeerJobStatus(), observed, NOW)


def kinds(plan):
    return [m["kind"] for m in plan.create]


def test_a_queued_job_creates_only_its_workload_with_one_pod_set():
    plan = decide(job(queue="team-a"))
    assert kinds(plan) == ["Workload"]
    wl = plan.create[0]
    assert wl["apiVersion"] == "kueue.x-k8s.io/v1beta1" and wl["spec"]["queueName"] == "team-a"
    assert wl["metadata"]["ownerReferences"][0]["kind"] == "SeerJob"
    assert wl["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    (pod_set,) = wl["spec"]["podSets"]
    assert (pod_set["name"], pod_set["count"], pod_set["minCount"]) == ("workers", 3, 2)
    trainer = pod_set["template"]["spec"]["containers"][0]
    assert trainer["resources"]["requests"] == {"cpu": "8", "memory": "16Gi"}
    assert (plan.status.phase, plan.status.condition("Suspended").reason) == (Phase.suspended, "WaitingForAdmission")


def test_a_rigid_job_asks_kueue_for_all_of_its_nodes():
    (pod_set,) = decide(job(nodes=(4, 4), queue="q")).create[0]["spec"]["podSets"]
    assert pod_set["count"] == 4 and "minCount" not in pod_set  # no PartialAdmission gate needed


@pytest.mark.parametrize(
    "workloads,reason",
    [((QUEUED,), "WaitingForAdmission"), ((workload([("Admitted", "False")]),), "WaitingForAdmission")],
)
def test_no_pod_runs_until_the_workload_is_admitted(workloads, reason):
    plan = decide(job(queue="q"), workloads=workloads)
    assert plan.create == () and plan.status.phase == Phase.suspended
    assert plan.status.condition("Suspended").reason == reason


@pytest.mark.parametrize("admitted", [ADMITTED, READMITTED])
def test_an_admitted_workload_gets_its_workers(admitted):
    plan = decide(job(queue="q"), workloads=(admitted,))
    assert kinds(plan) == ["Service", "Pod", "Pod", "Pod", "Pod"]
    assert plan.status.phase == Phase.pending
    conds = {c["type"]: c["status"] for c in plan.workload_status["conditions"]}
    assert conds["PodsReady"] == "False" and plan.workload_status["admission"] == admitted["status"]["admission"]


def test_pods_ready_tells_kueue_once_nodes_min_workers_are_ready():
    j = job(queue="q")
    wl = {**ADMITTED, "metadata": {**ADMITTED["metadata"], "resourceVersion": "41"}}
    plan = decide(j, all_pods(j), (wl,), SeerJobStatus(phase=Phase.pending))
    assert plan.status.phase == Phase.running and plan.workload_version == "41"
    ready = [c for c in plan.workload_status["conditions"] if c["type"] == "PodsReady"]
    assert [(c["status"], c["reason"]) for c in ready] == [("True", "PodsReady")]
    wl["status"] = plan.workload_status
    assert decide(j, all_pods(j), (wl,), plan.status).workload_status is None  # written once


@pytest.mark.parametrize("evicted", [EVICTED, workload([("Admitted", "True")], active=False)])
def test_eviction_stops_every_pod_like_suspend_with_the_checkpoint_grace(evicted):
    j = job(queue="q")
    plan = decide(j, all_pods(j), (evicted,), SeerJobStatus(phase=Phase.running))
    workers = [d for d in plan.delete if "worker" in d.name]
    assert len(plan.delete) == 4 and {d.grace_seconds for d in workers} == {grace_period_seconds(j)}
    assert plan.create == () and plan.status.condition("Suspended").reason == "Evicted"
    assert plan.workload_status is None  # pods still stopping: the quota is still in use


def test_the_quota_goes_back_to_kueue_once_the_evicted_workers_are_gone():
    plan = decide(job(queue="q"), workloads=(EVICTED,), prev=SeerJobStatus(phase=Phase.suspended))
    status = plan.workload_status
    assert status["admission"] is None  # a merge patch removes it
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds == {"QuotaReserved": "False", "Admitted": "False", "Evicted": "True"}
    again = workload([("QuotaReserved", "False"), ("Admitted", "False"), ("Evicted", "True")], admission=False)
    assert decide(job(queue="q"), workloads=(again,)).workload_status is None  # already given back


def test_a_finished_job_marks_its_workload_finished():
    j = job(queue="q")
    done = worker_pod(j, UID, 0, 0)
    done["status"] = {"phase": "Succeeded"}
    plan = decide(j, (done,), (ADMITTED,), SeerJobStatus(phase=Phase.running))
    assert plan.status.phase == Phase.succeeded
    assert {c["type"]: c["status"] for c in plan.workload_status["conditions"]}["Finished"] == "True"
    assert "Workload" not in kinds(plan)


def test_jobs_without_a_queue_or_gang_list_and_create_nothing_more():
    assert observed_kinds(job()) == {}
    assert kinds(decide(job())) == ["Service", "Pod", "Pod", "Pod", "Pod"]


@pytest.mark.parametrize(
    "gang,api,scheduler,where",
    [
        ("volcano", "scheduling.volcano.sh/v1beta1", "volcano", "annotations"),
        ("coscheduling", "scheduling.x-k8s.io/v1alpha1", "scheduler-plugins-scheduler", "labels"),
    ],
)
def test_gang_creates_a_pod_group_first_and_puts_every_worker_in_it(gang, api, scheduler, where):
    j = job(gang=gang)
    assert observed_kinds(j) == {"pod_groups": (*api.split("/"), "podgroups")}
    plan = decide(j)
    group = plan.create[0]
    assert (group["apiVersion"], group["kind"], group["metadata"]["name"]) == (api, "PodGroup", "j-workers")
    assert group["spec"]["minMember"] == 2 and group["spec"]["minResources"] == {"cpu": "16", "memory": "32Gi"}
    assert group["metadata"]["ownerReferences"][0]["uid"] == UID
    workers = [m for m in plan.create if m["kind"] == "Pod" and "worker" in m["metadata"]["name"]]
    assert len(workers) == 3
    for pod in workers:
        assert pod["spec"]["schedulerName"] == scheduler
        assert "j-workers" in pod["metadata"][where].values()
    rdzv = next(m for m in plan.create if m["metadata"]["name"] == "j-rdzv")
    assert "schedulerName" not in rdzv["spec"]  # not a gang member
    assert "PodGroup" not in kinds(decide(j, groups=(group,)))  # created once


def test_a_configured_scheduler_name_wins():
    plan = decide(job(gang="coscheduling", schedulerName="gang-scheduler"))
    workers = [m for m in plan.create if m["metadata"]["labels"].get("seer.dev/role") == "worker"]
    assert len(workers) == 3 and {m["spec"]["schedulerName"] for m in workers} == {"gang-scheduler"}


def test_min_resources_multiplies_quantities_keeping_suffixes():
    assert min_resources({"cpu": "500m", "memory": "1.5Gi", "nvidia.com/gpu": "8"}, 4) == {
        "cpu": "2000m",
        "memory": "6Gi",
        "nvidia.com/gpu": "32",
    }


def test_evictions_stop_is_exactly_the_suspend_stop():
    """Zero lost steps rests on this: the suspend path's final checkpoint (proven with real
    processes in tests/multinode/test_multinode_suspend.py) is what an eviction runs."""
    queued = job(queue="q")
    evicted = decide(queued, all_pods(queued), (EVICTED,), SeerJobStatus(phase=Phase.running))
    plain = job()
    suspended_job = plain.model_copy(update={"spec": plain.spec.model_copy(update={"suspend": True})})
    suspended = decide(suspended_job, all_pods(plain), (), SeerJobStatus(phase=Phase.running))
    assert evicted.delete == suspended.delete and evicted.create == suspended.create == ()
    assert evicted.status.phase == suspended.status.phase == Phase.suspended
    assert evicted.status.restarts == suspended.status.restarts == 0


def _admitted_with(count):
    wl = workload([("QuotaReserved", "True"), ("Admitted", "True")])
    wl["status"]["admission"]["podSetAssignments"] = [{"name": "workers", "count": count}]
    return wl


def test_partial_admission_runs_only_the_admitted_number_of_workers():
    plan = decide(job(queue="q"), workloads=(_admitted_with(2),))
    workers = sorted(
        m["metadata"]["name"] for m in plan.create if m["metadata"]["labels"].get("seer.dev/role") == "worker"
    )
    assert workers == ["j-worker-0-0", "j-worker-1-0"] and plan.status.nodes_desired == 2


def test_a_smaller_readmission_removes_the_workers_beyond_it_with_the_checkpoint_grace():
    j = job(queue="q")
    plan = decide(j, all_pods(j), (_admitted_with(2),), SeerJobStatus(phase=Phase.running))
    assert [(d.name, d.grace_seconds) for d in plan.delete] == [("j-worker-2-0", grace_period_seconds(j))]
    assert plan.create == () and plan.status.phase == Phase.running and plan.status.nodes_ready == 2


def test_workers_land_on_the_flavor_kueue_admitted_them_onto():
    from seer.operators.queueing import flavor_names

    j = job(queue="q")
    wl = _admitted_with(3)
    wl["status"]["admission"]["podSetAssignments"][0]["flavors"] = {"cpu": "spot", "memory": "spot"}
    assert flavor_names(j, (wl,)) == ("spot",)
    assert flavor_names(j, (EVICTED,)) == ()
    spot = {
        "metadata": {"name": "spot"},
        "spec": {
            "nodeLabels": {"cloud.example.com/capacity": "spot"},
            "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }
    observed = Observed(workloads=(wl,), flavors=(spot,))
    plan = desired_children(j, UID, 1, SeerJobStatus(), observed, NOW)
    workers = [m for m in plan.create if m["metadata"]["labels"].get("seer.dev/role") == "worker"]
    assert len(workers) == 3
    for pod in workers:
        assert pod["spec"]["nodeSelector"]["cloud.example.com/capacity"] == "spot"
        assert {"key": "spot", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    rdzv = next(m for m in plan.create if m["metadata"]["name"] == "j-rdzv")
    assert "nodeSelector" not in rdzv["spec"]  # the store needs no accelerator node


def test_a_workload_that_no_longer_fits_is_replaced_once_no_pod_is_left():
    """nodes changed while suspended: Kueue's podSets are immutable, so the old Workload (and
    its admission for 3 nodes) must not let 4 workers run."""
    old = workload([("QuotaReserved", "True"), ("Admitted", "True")])
    bigger = job(nodes=(4, 4), queue="q")
    plan = decide(bigger, workloads=(old,))
    assert plan.create == () and [(d.kind, d.name, d.api_version) for d in plan.delete] == [
        ("Workload", "j", "kueue.x-k8s.io/v1beta1")
    ]
    assert plan.status.condition("Suspended").reason == "WaitingForAdmission"
    (pod_set,) = decide(bigger).create[0]["spec"]["podSets"]  # next round: the Workload made anew
    assert pod_set["count"] == 4
    j = job(queue="q")
    suspended = bigger.model_copy(update={"spec": bigger.spec.model_copy(update={"suspend": True})})
    stopping = decide(suspended, all_pods(j), (old,), SeerJobStatus(phase=Phase.running))
    assert len(stopping.delete) == 4 and {d.kind for d in stopping.delete} == {"Pod"}  # the Workload waits for them


def test_a_pod_group_follows_nodes_min():
    old = decide(job(gang="volcano")).create[0]
    plan = decide(job(nodes=(3, 3), gang="volcano"), groups=(old,))
    assert [(d.kind, d.api_version) for d in plan.delete] == [("PodGroup", "scheduling.volcano.sh/v1beta1")]
    assert "PodGroup" not in kinds(plan)  # made again once the old one is gone
    assert decide(job(gang="volcano"), groups=(old,)).delete == ()
