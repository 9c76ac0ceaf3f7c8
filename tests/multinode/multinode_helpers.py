"""The multi-node scenarios' fixtures and helpers: the real operator, the real trainer, real
processes on emulated nodes.

The operator runs in-process (kopf's ``KopfRunner``) against the API emulator, as in
``tests/operators``; :class:`node_emulator.NodeEmulator` runs the pods it creates as process
trees in network namespaces. Checkpoints go to a host directory every "node" sees (shared
storage without mount namespaces). Every scenario prints and records (``record_property``)
the time from its fault to the next training step and the steps lost: the numbers behind the
"What happens when…" table of docs/operator.md.

Test modules import the fixtures from here (``from multinode_helpers import cluster_fixture, digits_fixture``:
fixtures named ``cluster`` and ``digits``)
and carry :data:`REQUIRES_NODES`. There is deliberately no ``conftest.py`` in this folder: the
operator tests do ``from conftest import ...``, which resolves to whichever conftest module
pytest imported last, so a second one would break them when both folders run together.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("SEER_OPERATOR_RESYNC_SECONDS", "1")  # read when the handlers module is imported

import kopf.testing  # noqa: E402
import kube_emulator  # noqa: E402
import kubernetes  # noqa: E402
import node_emulator  # noqa: E402
import pytest  # noqa: E402
from emulated_cluster import NS, EmulatedCluster  # noqa: E402
from polling import wait_until  # noqa: E402

from seer.platform.crd import build_crd  # noqa: E402

OPERATOR_ARGS = ["run", "--all-namespaces", "--standalone", "-m", "seer.operators.handlers"]
REPO = Path(__file__).resolve().parents[2]
for _noisy in ("aiohttp.access", "kopf"):  # every request and every timer run, otherwise
    logging.getLogger(_noisy).setLevel(logging.WARNING)
#: Every scenario's numbers, for the terminal summary (conftest) and docs/operator.md.
RESULTS: list[dict[str, Any]] = []
#: The host's Python environment stands for the worker image's: these reach the pods.
PASSED_ENV = ("PYTHONPATH", "TORCH_CPP_LOG_LEVEL", "TORCH_DISTRIBUTED_DEBUG")


def wait_for(predicate, timeout: float = 60.0, what: str = "condition", poll: float = 0.2):
    return wait_until(predicate, timeout, what, poll)


# ------------------------------------------------------------------- job spec


def job_spec(
    data: dict[str, Any],
    checkpoints: Path,
    *,
    nodes: tuple[int, int],
    procs_per_node: int = 1,
    max_steps: int = 30,
    interval: int = 10,
    batch_size: int = 32,
    **overrides: Any,
) -> dict[str, Any]:
    """The quickstart's tiny model and data, on CPU, one thread per process."""
    spec: dict[str, Any] = {
        "model": {
            "variant": None,
            "design": {"depth": 6, "w0": 24, "wa": 16.0, "wm": 2.0, "groupWidth": 8, "stemWidth": 16},
            "head": {"hiddenDim": 256, "outputDim": 64},
        },
        "swav": {
            "numPrototypes": 20,
            "epsilon": 0.015,
            "sinkhornIterations": 5,
            "crops": {"sizes": [32, 16], "counts": [2, 2], "minScale": [0.4, 0.15], "maxScale": [1.0, 0.4]},
            "queue": {"length": 0},
            "freezePrototypesSteps": 5,
        },
        "optim": {"name": "sgd", "baseLr": 0.6, "epochs": 100, "warmupEpochs": 0, "maxSteps": max_steps},
        "data": {
            "sources": [data["train"]],
            "batchSize": batch_size,
            "augment": {"flipProb": 0.0, "jitterProb": 0.0, "grayscaleProb": 0.0, "blurProb": 0.0},
            "loaderWorkers": 0,
        },
        "checkpoint": {
            "url": str(checkpoints),
            "intervalSteps": interval,
            "keepLast": 3,
            "preemptionBudgetSeconds": 30,
        },
        "resources": {
            "nodes": {"min": nodes[0], "max": nodes[1]},
            "procsPerNode": procs_per_node,
            "device": "cpu",
            "cpu": str(procs_per_node),
            "memory": "2Gi",
        },
        "training": {"precision": "fp32", "logEverySteps": 1},
        "restart": {"maxRestarts": 5, "backoffSeconds": 0, "maxBackoffSeconds": 0},
        "metrics": {"port": 9400},
        "eval": {"enabled": False},
    }
    for key, value in overrides.items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    return spec


# -------------------------------------------------------------- log reading

_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[rank (\d+)\] INFO seer\.trainer: "
_STEP = re.compile(_STAMP + r"step (\d+)/(\d+) epoch \d+ loss ([-\d.naif]+)")
_RESUMED = re.compile(_STAMP + r"resumed from .*: step (\d+)")


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


@dataclass(frozen=True)
class StepRecord:
    time: float
    pod: str
    rank: int
    step: int
    total: int
    loss: float


def step_records(logs: dict[str, str]) -> list[StepRecord]:
    """Every "step N/T ... loss L" line of every pod's log, in time order."""
    out = []
    for pod, text in logs.items():
        for line in text.splitlines():
            m = _STEP.match(line)
            if m:
                out.append(StepRecord(_stamp(m[1]), pod, int(m[2]), int(m[3]), int(m[4]), float(m[5])))
    return sorted(out, key=lambda r: (r.time, r.step))


def resumes(logs: dict[str, str]) -> list[tuple[float, str, int]]:
    """(time, pod, step) of every "resumed from ... step N" line."""
    out = []
    for pod, text in logs.items():
        for line in text.splitlines():
            m = _RESUMED.match(line)
            if m:
                out.append((_stamp(m[1]), pod, int(m[3])))
    return sorted(out)


def losses_by_step(records: list[StepRecord]) -> dict[int, float]:
    """The last logged loss of each step (a step redone after a restart: its last run)."""
    return {r.step: r.loss for r in records}


def recovery(records: list[StepRecord], fault_at: float) -> tuple[float, int, int]:
    """(seconds from the fault to the first step completed after it, steps lost, that step).

    Steps lost = the highest step finished before the fault minus the step training
    resumed from (the first step after the fault minus one)."""
    before = [r.step for r in records if r.time <= fault_at]
    after = [r for r in records if r.time > fault_at]
    if not after:
        raise AssertionError("no training step after the fault")
    first = after[0]
    reached = max(before) if before else 0
    return first.time - fault_at, max(0, reached - (first.step - 1)), first.step


def interruption(records: list[StepRecord], logs: dict[str, str], fault_at: float) -> tuple[float, int]:
    """(longest stall of training after the fault, steps redone).

    For faults after which training may go on for a while before the job regroups:
    the stall is the longest gap between consecutive logged steps (from the fault on);
    steps redone add up, for every resume after the fault, the highest step reached
    before it minus the step it resumed from."""
    times = [fault_at] + [r.time for r in records if r.time > fault_at]
    stall = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
    redone = 0
    seen: set[float] = set()
    for at, _pod, step in resumes(logs):
        if at <= fault_at or at in seen:
            continue
        seen.add(at)
        reached = max((r.step for r in records if r.time < at), default=0)
        redone = max(redone, reached - step)
    return stall, redone


def report(scenario: str, recovery_s: float, steps_lost: int, interval: int, record_property: Any, note: str = ""):
    entry = {"scenario": scenario, "recovery_s": recovery_s, "steps_lost": steps_lost, "interval": interval}
    if note:
        entry["note"] = note
    RESULTS.append(entry)
    record_property("multinode", entry)
    line = f"[multinode] {scenario}: fault -> next step {recovery_s:.1f}s, steps lost {steps_lost} ({note})"
    print(line, file=sys.__stderr__, flush=True)  # KopfRunner redirects sys.stdout while the operator runs


# ------------------------------------------------------- the emulated cluster


class Cluster(EmulatedCluster):
    """The emulated cluster: API emulator + operator + nodes."""

    def __init__(self, emulator, api: kubernetes.client.ApiClient, nodes: node_emulator.NodeEmulator) -> None:
        super().__init__(emulator, api)
        self.nodes = nodes

    def submit(self, name: str, spec: dict[str, Any]) -> None:
        self.create_job(name, spec)

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object("seer.dev", "v1alpha1", NS, "seerjobs", name, {"spec": spec})

    def events(self, job: str) -> list[dict[str, Any]]:
        return [e for e in self.emulator.objects("", "events", NS) if e.get("involvedObject", {}).get("name") == job]

    def logs(self, job: str) -> dict[str, str]:
        return self.nodes.logs(f"{job}-")

    def records(self, job: str) -> list[StepRecord]:
        return step_records({k: v for k, v in self.logs(job).items() if "-worker-" in k})

    def wait_phase(self, job: str, phase: str, timeout: float = 240) -> dict[str, Any]:
        def check():
            self.nodes_ok()
            status = self.status(job)
            if status.get("phase") == "Failed" and phase != "Failed":
                raise AssertionError(f"job {job} failed: {status}\n{self.tail(job)}")
            return status if status.get("phase") == phase else None

        try:
            return wait_for(check, timeout, f"{job} phase {phase}")
        except AssertionError as e:
            raise AssertionError(f"{e}\nstatus: {self.status(job)}\n{self.tail(job)}") from None

    def wait_step(self, job: str, step: int, timeout: float = 240) -> StepRecord:
        def check():
            self.nodes_ok()
            return next((r for r in self.records(job) if r.step >= step), None)

        try:
            return wait_for(check, timeout, f"{job} at step {step}", poll=0.3)
        except AssertionError as e:
            raise AssertionError(f"{e}\nstatus: {self.status(job)}\n{self.tail(job)}") from None

    def nodes_ok(self) -> None:
        if self.nodes.errors:
            raise AssertionError(f"node emulator errors: {self.nodes.errors}")

    def tail(self, job: str, lines: int = 40) -> str:
        return "\n".join(f"== {pod}\n" + "\n".join(text.splitlines()[-lines:]) for pod, text in self.logs(job).items())


# ---------------------------------------------------------------- fixtures

UNAVAILABLE = node_emulator.unavailable_reason()
#: Every multinode test carries this: skipped loudly without root or ``ip netns``.
REQUIRES_NODES = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"MULTINODE SCENARIOS NOT RUN: {UNAVAILABLE}")
if UNAVAILABLE:
    sys.stderr.write(f"\n*** MULTINODE SCENARIOS NOT RUN: {UNAVAILABLE} ***\n")


def _interrupt_on_sigterm(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then runs the fixtures' cleanup


if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)  # CI's `timeout` must not leak namespaces


@pytest.fixture(scope="session", name="digits")
def digits_fixture(tmp_path_factory) -> dict[str, Any]:
    from seer.trainer.data.digits import materialize_digits

    return materialize_digits(str(tmp_path_factory.mktemp("digits")))


@pytest.fixture(name="cluster")
def cluster_fixture(tmp_path, monkeypatch) -> Iterator[Cluster]:
    node_emulator.cleanup_stale()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with kube_emulator.serve_in_thread([build_crd()]) as emu:
        kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        api = kubernetes.config.new_client_from_config(str(kubeconfig))
        passed = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        nodes = node_emulator.NodeEmulator(emu, api, tmp_path / "nodes", capacity=3, cwd=REPO, base_env=passed)
        try:
            with kopf.testing.KopfRunner(OPERATOR_ARGS, timeout=60) as runner:
                yield Cluster(emu, api, nodes)
        finally:
            nodes.close()
        assert runner.exception is None, runner.output
