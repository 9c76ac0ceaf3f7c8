"""The operator under test runs for real (kopf's KopfRunner, in-process) against the
Kubernetes API emulator; tests play the kubelet by writing pod status."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SEER_OPERATOR_RESYNC_SECONDS", "1")  # read when the handlers module is imported
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))  # until pyproject's pythonpath lands

import kopf.testing  # noqa: E402
import kube_emulator  # noqa: E402
import kubernetes  # noqa: E402
from emulated_cluster import NS, EmulatedCluster  # noqa: E402
from polling import wait_until  # noqa: E402

from seer.platform.crd import build_crd  # noqa: E402


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; the timeout only bounds a hang, it never decides a pass."""
    return wait_until(predicate, timeout, what, poll=0.05)


def trainer_status(state: dict[str, Any]) -> dict[str, Any]:
    """The kubelet's status of a worker pod's (not ready) ``trainer`` container in ``state``."""
    return {"name": "trainer", "ready": False, "restartCount": 0, "image": "i", "imageID": "", "state": state}


def node_lost_status(at: str) -> dict[str, Any]:
    """The node controller's status of a pod on a lost node (no container record); ``at`` is the
    condition's RFC 3339 ``lastTransitionTime``."""
    return {
        "phase": "Failed",
        "reason": "NodeLost",
        "conditions": [
            {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager", "lastTransitionTime": at}
        ],
    }


class Cluster(EmulatedCluster):
    """Test-side view of the emulated cluster: submit jobs, read state, act as kubelet."""

    def submit(self, name: str, **spec: Any) -> dict[str, Any]:
        return self.create_job(name, spec)

    # ---- the kubelet's part
    def set_pod_status(self, name: str, status: dict[str, Any]) -> None:
        self.core.patch_namespaced_pod_status(name, NS, {"status": status})

    def run_pod(self, name: str, ip: str = "127.0.0.1") -> None:
        self.set_pod_status(
            name, {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
        )

    def run_all(self, job: str) -> None:
        for pod in self.pods(job) + self.pods(job, "rendezvous"):
            if (pod.get("status") or {}).get("phase") == "Pending":
                self.run_pod(pod["metadata"]["name"])

    def exit_pod(self, name: str, code: int, reason: str = "Error") -> None:
        self.set_pod_status(
            name,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [trainer_status({"terminated": {"exitCode": code, "reason": reason}})],
            },
        )

    def evict_pod(self, name: str) -> None:
        self.set_pod_status(
            name,
            {
                "phase": "Failed",
                "reason": "Evicted",
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "EvictionByEvictionAPI",
                        "message": "Eviction API: evicting",
                    },
                ],
            },
        )

    def events(self, job: str) -> list[dict[str, Any]]:
        return [e for e in self.emulator.objects("", "events", NS) if e.get("involvedObject", {}).get("name") == job]


@pytest.fixture
def emulator() -> Iterator[kube_emulator.RunningEmulator]:
    with kube_emulator.serve_in_thread([build_crd()]) as emu:
        yield emu


@pytest.fixture
def kubeconfig(emulator, tmp_path, monkeypatch) -> Path:
    path = emulator.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


@pytest.fixture
def cluster(emulator, kubeconfig) -> Cluster:
    return Cluster(emulator, kubernetes.config.new_client_from_config(str(kubeconfig)))


OPERATOR_ARGS = ["run", "--all-namespaces", "--standalone", "-m", "seer.operators.handlers"]


@pytest.fixture
def operator(kubeconfig) -> Iterator[kopf.testing.KopfRunner]:
    with kopf.testing.KopfRunner(OPERATOR_ARGS, timeout=30) as runner:
        yield runner
    assert runner.exception is None, runner.output
