"""The node emulator itself, with plain pods (no operator, no trainer): what a kubelet does."""

from __future__ import annotations

import base64
import sys

import kube_emulator
import kubernetes
import node_emulator
import pytest
from multinode_helpers import REQUIRES_NODES, wait_for

pytestmark = [pytest.mark.multinode, REQUIRES_NODES]

NS = "default"


@pytest.fixture
def kube(tmp_path):
    reason = node_emulator.unavailable_reason()
    if reason:
        pytest.skip(f"MULTINODE SCENARIOS NOT RUN: {reason}")
    with kube_emulator.serve_in_thread() as emu:
        api = kubernetes.config.new_client_from_config(str(emu.write_kubeconfig(tmp_path / "kubeconfig")))
        nodes = node_emulator.NodeEmulator(emu, api, tmp_path / "nodes", capacity=3)
        try:
            yield emu, kubernetes.client.CoreV1Api(api), nodes
        finally:
            nodes.close()
    assert not nodes.errors, nodes.errors


def pod(name: str, code: str, **extra) -> dict:
    container = {"name": "main", "image": "x", "command": [sys.executable, "-c", code], **extra.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": extra.pop("labels", {})},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 5, **extra},
    }


def status(emu, name: str) -> dict:
    found = [p for p in emu.objects("", "pods", NS) if p["metadata"]["name"] == name]
    return (found[0].get("status") or {}) if found else {}


def terminated(emu, name: str) -> dict | None:
    for cs in status(emu, name).get("containerStatuses") or []:
        if "terminated" in cs.get("state", {}):
            return cs["state"]["terminated"]
    return None


@pytest.mark.timeout(120)
def test_pods_run_on_their_own_nodes_reach_each_other_by_service_name_and_report_status(kube):
    emu, core, nodes = kube
    secret = {"metadata": {"name": "creds"}, "data": {"K": base64.b64encode(b"s3cr3t").decode()}}
    core.create_namespaced_secret(NS, secret)
    core.create_namespaced_service(
        NS, {"metadata": {"name": "store"}, "spec": {"clusterIP": "None", "selector": {"app": "store"}}}
    )
    server = (
        "import socket; s = socket.socket(); s.bind(('0.0.0.0', 7000)); s.listen()\n"
        "while True:\n    c, _ = s.accept(); c.sendall(socket.gethostname().encode()); c.close()"
    )
    core.create_namespaced_pod(
        NS, pod("store-0", server, labels={"app": "store"}, container={"readinessProbe": {"tcpSocket": {"port": 7000}}})
    )
    client = (
        "import os, socket; c = socket.create_connection(('store', 7000), timeout=5)\n"
        "assert c.recv(100) == b'store-0', 'wrong peer'\n"
        "assert socket.gethostname() == os.environ['ME'] == 'client-0'\n"
        "assert os.environ['SECRET'] == 's3cr3t' and os.environ['ARG'] == os.environ['MY_IP']\n"
        "raise SystemExit(3)"
    )
    env = [
        {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "K"}}},
        {"name": "ARG", "value": "$(MY_IP)"},
    ]
    wait_for(lambda: status(emu, "store-0").get("podIP"), 30, "store-0 running")
    wait_for(
        lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in status(emu, "store-0")["conditions"]),
        30,
        "store-0 ready (TCP probe)",
    )
    core.create_namespaced_pod(NS, pod("client-0", client, container={"env": env}))
    end = wait_for(lambda: terminated(emu, "client-0"), 60, "client-0 finished")
    log = nodes.log("client-0")
    assert (end["exitCode"], end["reason"]) == (3, "Error"), log
    assert status(emu, "client-0")["phase"] == "Failed"
    assert nodes.node_of("client-0").ip != nodes.node_of("store-0").ip


@pytest.mark.timeout(120)
def test_faults_kill_lose_partition_evict(kube):
    emu, core, nodes = kube
    sleeper = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: (print('got SIGTERM', flush=True), sys.exit(75)))\n"
        "while True: time.sleep(0.1)"
    )
    for name in ("a", "b", "c"):
        core.create_namespaced_pod(NS, pod(name, sleeper))
    for name in ("a", "b", "c"):
        wait_for(lambda n=name: nodes.alive(n) and status(emu, n).get("phase") == "Running", 30, f"{name} running")

    nodes.kill_pod("a")
    end = wait_for(lambda: terminated(emu, "a"), 30, "a killed")
    assert (end["exitCode"], end["reason"]) == (137, "OOMKilled")

    lost = nodes.lose_node("b")
    st = wait_for(lambda: status(emu, "b").get("phase") == "Failed" and status(emu, "b"), 30, "b failed")
    assert st["reason"] == "NodeLost" and lost.lost and not nodes.alive("b")
    assert any(c["type"] == "DisruptionTarget" and c["reason"] == "DeletionByTaintManager" for c in st["conditions"])

    node = nodes.partition("c", 1.0)
    assert node.partitioned
    wait_for(lambda: not node.partitioned, 10, "partition healed")
    assert nodes.alive("c")

    nodes.evict("c")  # DisruptionTarget, then a graceful delete: SIGTERM, the process exits 75 by itself
    wait_for(lambda: not nodes.alive("c"), 30, "c stopped")
    assert "got SIGTERM" in nodes.log("c")
    assert nodes.run_of("c").proc.returncode == 75
