"""Two real operator processes (``python -m seer.operators.main --leader-election``) against the
API emulator: exactly one acts, the other stands by; when the active one is killed (SIGKILL, no
hand-over) the standby takes the Lease after it expires and carries on; no pod is ever created
twice and no replacement name appears that the job's history does not explain.

Every request is recorded with the bearer token of its kubeconfig, one token per process, so
"who acted" is read from the API traffic, not from logs. Bounds only limit a hang (``wait_for``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import kube_emulator
import kubernetes
import pytest
import yaml
from conftest import NS, Cluster, wait_for

from seer.platform.crd import build_crd

pytestmark = pytest.mark.slow

LEASE = "seer-operator"
FAST_RESTARTS = {"restart": {"backoffSeconds": 0, "maxBackoffSeconds": 0, "maxRestarts": 2}}


@pytest.fixture
def traffic(monkeypatch) -> list[tuple[str, str, str, int]]:
    """(token, method, path, status) of every request the emulator answers."""
    seen: list[tuple[str, str, str, int]] = []
    original = kube_emulator.KubeEmulator.__call__

    async def recording(self, raw_request):
        response = await original(self, raw_request)
        token = raw_request.headers.get("Authorization", "").removeprefix("Bearer ")
        seen.append((token, raw_request.method, raw_request.path, response.status))
        return response

    monkeypatch.setattr(kube_emulator.KubeEmulator, "__call__", recording)
    return seen


@pytest.fixture
def emu(traffic) -> Iterator[kube_emulator.RunningEmulator]:
    with kube_emulator.serve_in_thread([build_crd()]) as running:
        yield running


def _kubeconfig(emu: kube_emulator.RunningEmulator, path: Path, token: str) -> Path:
    emu.write_kubeconfig(path)
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"]["token"] = token
    path.write_text(yaml.safe_dump(config))
    return path


class Operator:
    def __init__(self, emu: kube_emulator.RunningEmulator, tmp: Path, identity: str) -> None:
        self.identity = identity
        self.log = tmp / f"{identity}.log"
        env = {
            **os.environ,
            "KUBECONFIG": str(_kubeconfig(emu, tmp / f"{identity}.kubeconfig", identity)),
            "SEER_OPERATOR_RESYNC_SECONDS": "1",
            "OMP_NUM_THREADS": "1",
        }
        args = ["--metrics-port", "0", "--liveness", "", "--leader-election"]
        args += ["--leader-election-namespace", NS, "--leader-election-lease", LEASE]
        args += ["--leader-election-identity", identity]
        args += ["--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "0.5"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "seer.operators.main", *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def operators(emu, tmp_path) -> Iterator[dict[str, Operator]]:
    procs = {name: Operator(emu, tmp_path, name) for name in ("op-a", "op-b")}
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
            print(f"---- {proc.identity}\n{proc.log.read_text()[-4000:]}")  # shown when a test fails


def _holder(emu: kube_emulator.RunningEmulator) -> str | None:
    lease = next((o for o in emu.objects("coordination.k8s.io", "leases", NS) if o["metadata"]["name"] == LEASE), None)
    return (lease or {}).get("spec", {}).get("holderIdentity")


def _acts(traffic: list[tuple[str, str, str, int]], token: str) -> list[tuple[str, str, int]]:
    """Every write of ``token`` besides the Lease: what an active operator does."""
    return [
        (method, path, status)
        for tok, method, path, status in list(traffic)
        if tok == token and method in ("POST", "PUT", "PATCH", "DELETE") and "/leases" not in path
    ]


def _pod_creations(traffic: list[tuple[str, str, str, int]]) -> list[tuple[str, int]]:
    return [(tok, status) for tok, method, path, status in list(traffic) if method == "POST" and path.endswith("/pods")]


def _names(cluster: Cluster, job: str) -> list[str]:
    return [p["metadata"]["name"] for p in cluster.pods(job)]


def test_one_operator_acts_the_other_takes_over_when_it_dies_and_no_pod_is_created_twice(emu, traffic, operators):
    tester = _kubeconfig(emu, operators["op-a"].log.parent / "tester.kubeconfig", "tester")  # the test's own token
    cluster = Cluster(emu, kubernetes.config.new_client_from_config(str(tester)))
    leader_id = wait_for(lambda: _holder(emu), timeout=60, what="a leader")
    leader, standby = operators[leader_id], operators[({"op-a", "op-b"} - {leader_id}).pop()]
    # The standby has looked at the lease (it is a candidate, not a crashed process).
    wait_for(
        lambda: any(tok == standby.identity and "/leases/" in path for tok, _, path, _ in list(traffic)),
        timeout=60,
        what="the standby reading the lease",
    )

    cluster.submit("ha", resources={"nodes": {"min": 2, "max": 2}}, **FAST_RESTARTS)
    wait_for(lambda: len(cluster.pods("ha")) == 2 and cluster.pods("ha", "rendezvous"), timeout=60, what="pods")
    cluster.run_all("ha")
    wait_for(lambda: cluster.status("ha").get("phase") == "Running", timeout=60, what="Running")
    assert _names(cluster, "ha") == ["ha-worker-0-0", "ha-worker-1-0"]
    assert _acts(traffic, leader.identity), "the leader reconciled"
    assert _acts(traffic, standby.identity) == [], "the standby wrote to the cluster"
    assert standby.proc.poll() is None and leader.proc.poll() is None

    leader.proc.send_signal(signal.SIGKILL)  # no hand-over: the standby must wait for expiry
    leader.proc.wait(timeout=30)
    wait_for(lambda: _holder(emu) == standby.identity, timeout=60, what="the standby taking the lease")
    # The new leader acts: an evicted worker gets exactly one replacement, created by it.
    cluster.evict_pod("ha-worker-1-0")
    wait_for(lambda: "ha-worker-1-1" in _names(cluster, "ha"), timeout=60, what="the replacement worker")
    cluster.run_pod("ha-worker-1-1")
    wait_for(lambda: cluster.status("ha").get("phase") == "Running", timeout=60, what="Running again")
    assert _names(cluster, "ha") == ["ha-worker-0-0", "ha-worker-1-1"]
    assert [p["metadata"]["name"] for p in cluster.pods("ha", "rendezvous")] == ["ha-rdzv"]

    created = [(tok, status) for tok, status in _pod_creations(traffic) if status == 201]
    assert sorted(created) == sorted([(leader.identity, 201)] * 3 + [(standby.identity, 201)]), (
        f"pods created (token, status): {_pod_creations(traffic)}"
    )
    assert standby.proc.poll() is None, standby.log.read_text()[-3000:]


def test_a_clean_shutdown_hands_the_lease_over_at_once(emu, traffic, operators):
    leader_id = wait_for(lambda: _holder(emu), timeout=60, what="a leader")
    leader, standby = operators[leader_id], operators[({"op-a", "op-b"} - {leader_id}).pop()]
    wait_for(  # the leader runs kopf: it lists the SeerJobs
        lambda: any(t == leader.identity and m == "GET" and p.endswith("/seerjobs") for t, m, p, _ in list(traffic)),
        timeout=60,
        what="the leader's kopf listing SeerJobs",
    )
    leader.proc.send_signal(signal.SIGTERM)  # kopf stops; main releases the lease
    assert leader.proc.wait(timeout=60) == 0, leader.log.read_text()[-3000:]
    released = [
        (method, status) for tok, method, path, status in list(traffic) if tok == leader.identity and method == "PUT"
    ]
    assert released and released[-1] == ("PUT", 200)
    wait_for(lambda: _holder(emu) == standby.identity, timeout=60, what="the standby taking the released lease")
    lease = next(o for o in emu.objects("coordination.k8s.io", "leases", NS) if o["metadata"]["name"] == LEASE)
    assert lease["spec"]["leaseTransitions"] >= 1


def test_a_leader_that_finds_another_holder_exits_at_once_and_a_standby_stops_on_sigterm(emu, traffic, operators):
    leader_id = wait_for(lambda: _holder(emu), timeout=60, what="a leader")
    leader, standby = operators[leader_id], operators[({"op-a", "op-b"} - {leader_id}).pop()]
    # Someone else (another partition's operator, say) now holds the lease: the old leader must stop acting.
    api = kubernetes.client.CoordinationV1Api(
        kubernetes.config.new_client_from_config(str(_kubeconfig(emu, leader.log.parent / "t.kubeconfig", "tester")))
    )
    api.patch_namespaced_lease(LEASE, NS, {"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 3600}})
    assert leader.proc.wait(timeout=60) == 3, leader.log.read_text()[-3000:]  # main.EXIT_LEADERSHIP_LOST
    assert _holder(emu) == "intruder"  # and it did not fight back
    assert standby.proc.poll() is None  # the fresh record keeps it waiting
    wait_for(  # the standby is past start-up (its SIGTERM handler is set): it has read the lease
        lambda: any(t == standby.identity and "/leases/" in p for t, _, p, _ in list(traffic)),
        timeout=60,
        what="the standby reading the lease",
    )
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(timeout=60) == 0, standby.log.read_text()[-3000:]
    assert _acts(traffic, standby.identity) == []
