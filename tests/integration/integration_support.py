"""Helpers for the end-to-end recovery tests: tiny jobs, seerctl, run directories, S3 faults.

Kept out of ``conftest.py`` so test modules (and ``bench/recovery.py``) can import them by
name. Everything here drives the real pieces: the ``seerctl`` CLI in a subprocess, the
detached local supervisor, torchrun workers, moto_server behind a TCP proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from polling import wait_until
from seerctl_runner import run_seerctl
from tiny_jobs import deep_merge, tiny_spec

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
TRAIN_WORKER = HERE / "train_worker.py"
REPO = HERE.parent.parent

#: Images in the small training set: 160 = 10 steps/epoch at 2 ranks x 8, 20 at 1 rank x 8.
SMALL_SET = 160

#: The name prefix of the checkpointer's background save thread.
SAVE_THREAD_PREFIX = "seer-checkpoint-"

#: Generous limits that only stop a hung test; no assertion depends on timing.
HANG_GUARD_S = 150.0

#: The smallest job that still exercises everything: FSDP2 (when >1 rank), multi-crop,
#: LARS, Sinkhorn, async checkpoints. ~60 ms a step on one thread.
TINY_SPEC: dict[str, Any] = tiny_spec(
    optim={"epochs": 2, "warmupEpochs": 0.5},
    data={"batchSize": 8, "loaderWorkers": 0},
    checkpoint={"intervalSteps": 5, "keepLast": 3},
    resources={"procsPerNode": 1, "device": "cpu", "threadsPerProc": 1},
    training={"precision": "fp32", "logEverySteps": 1, "seed": 7},
    restart={"maxRestarts": 3, "backoffSeconds": 0.2},
    metrics={"port": 0},
)


def tiny_job(name: str, data_dir: Path | str, **spec_changes: Any) -> dict[str, Any]:
    """A SeerJob document for the tiny model on ``data_dir``; ``spec_changes`` merge into ``spec``."""
    spec = deep_merge(TINY_SPEC, {"data": {"sources": [str(data_dir)]}})
    return {
        "apiVersion": "seer.dev/v1alpha1",
        "kind": "SeerJob",
        "metadata": {"name": name},
        "spec": deep_merge(spec, spec_changes),
    }


def complete_steps(root: Path) -> list[int]:
    """The steps of the checkpoints under ``root`` that have both DCP metadata and the manifest (the commit marker)."""
    from seer.trainer.checkpoint import MANIFEST_NAME, METADATA_NAME

    return sorted(
        int(p.name.split("-")[1])
        for p in root.glob("step-*")
        if (p / METADATA_NAME).exists() and (p / MANIFEST_NAME).exists()
    )


def write_job(path: Path, document: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    return path


def make_subset(src: Path, dst: Path, count: int) -> Path:
    """Copy the first ``count`` images of an image folder (class sub-folders kept) to ``dst``."""
    files = sorted(src.rglob("*.png"))[:count]
    if len(files) < count:
        raise ValueError(f"{src} holds only {len(files)} images, {count} wanted")
    for f in files:
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    return dst


def quiet_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for child processes: one thread each (2 shared cores)."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def wait_for(what: str, predicate: Callable[[], T | None], timeout_s: float = HANG_GUARD_S, poll_s: float = 0.1) -> T:
    """Poll until ``predicate`` returns a truthy value and return it; fail after ``timeout_s``."""
    return wait_until(predicate, timeout_s, what, poll=poll_s)


# ------------------------------------------------------------------------ seerctl runs


@dataclass
class LocalRun:
    """One job run through ``seerctl`` under a private ``SEER_HOME``."""

    home: Path
    name: str

    @property
    def path(self) -> Path:
        return self.home / "runs" / self.name

    def seerctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = run_seerctl(quiet_env({"SEER_HOME": str(self.home)}), *args)
        if check and proc.returncode != 0:
            raise AssertionError(f"seerctl {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def status(self) -> dict[str, Any]:
        return json.loads(self.seerctl("status", self.name, "-o", "json").stdout)

    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def events(self) -> list[dict[str, Any]]:
        out = []
        try:
            lines = (self.path / "events.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                continue
        return out

    def steps_logged(self) -> list[int]:
        return [e["step"] for e in self.events() if e.get("type") == "step"]

    def checkpoint_steps(self) -> list[int]:
        return sorted(
            int(p.name.split("-")[1])
            for p in (self.path / "checkpoints").glob("step-*")
            if (p / "manifest.json").exists()
        )

    def worker_pid(self, rank: int) -> int | None:
        try:
            return int((self.path / "pids" / f"rank-{rank}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def wait_for_step(self, step: int, *, after_start: int = 1) -> int:
        """Wait until the ``after_start``-th attempt (``start`` event) logged ``step``; returns it."""

        def reached() -> int | None:
            starts = 0
            for e in self.events():
                starts += e.get("type") == "start"
                if starts >= after_start and e.get("type") == "step" and e["step"] >= step:
                    return int(e["step"])
            if self.state().get("phase") in ("Succeeded", "Failed", "Cancelled"):
                raise AssertionError(f"{self.name} ended ({self.state()}) before step {step}")
            return None

        return wait_for(f"{self.name} to reach step {step}", reached)

    def wait_until_final(self) -> dict[str, Any]:
        phase = wait_for(
            f"{self.name} to end",
            lambda: self.state().get("phase") in ("Succeeded", "Failed", "Cancelled") and self.state(),
        )
        return phase

    def diagnostics(self) -> str:
        """Logs to print when an assertion fails (supervisor + ranks)."""
        parts = [f"state: {self.state()}"]
        logs = self.path / "logs"
        for f in sorted(logs.glob("*.log")):
            parts.append(f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(parts)

    def stop(self) -> None:
        """Best-effort cleanup of this run's processes (only the ones it started)."""
        state = self.state()
        pids = [p for p in (state.get("supervisor_pid"),) if p]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for f in (self.path / "pids").glob("rank-*.pid") if (self.path / "pids").exists() else []:
            try:
                os.kill(int(f.read_text().strip()), signal.SIGKILL)
            except (ValueError, OSError):
                pass


def steps_of_attempt(events: list[dict[str, Any]], attempt: int) -> list[int]:
    """Steps logged by the ``attempt``-th start (1-based) of a run."""
    starts, out = 0, []
    for e in events:
        if e.get("type") == "start":
            starts += 1
        elif e.get("type") == "step" and starts == attempt:
            out.append(int(e["step"]))
    return out


def starts(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type") == "start"]


# ----------------------------------------------------------------- torchrun train() runs


@dataclass
class WorkerResult:
    """What ``train_worker.py`` reports for one rank of one run."""

    rank: int
    world_size: int
    step: int
    preempted: bool
    resumed_from: int | None
    losses: dict[int, float]
    indices: dict[int, list[int]]  # step -> global sample indices this rank trained on
    epochs: dict[int, int]  # step -> epoch of that step's batch

    @classmethod
    def read(cls, path: Path) -> "WorkerResult":
        d = json.loads(path.read_text())
        return cls(
            rank=d["rank"],
            world_size=d["world_size"],
            step=d["step"],
            preempted=d["preempted"],
            resumed_from=d["resumed_from"],
            losses={int(k): float(v) for k, v in d["losses"].items()},
            indices={int(k): list(v) for k, v in d["indices"].items()},
            epochs={int(k): int(v) for k, v in d["epochs"].items()},
        )


def torchrun_command(nprocs: int, script: Path, *args: str) -> list[str]:
    """``script ARGS`` on ``nprocs`` ranks of this machine: torchrun with a standalone rendezvous, this interpreter."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(nprocs),
        str(script),
        *args,
    ]


def join_checkpoint_saves() -> None:
    """Wait for this process's background checkpoint saves (threads ``seer-checkpoint-STEP``) to end."""
    for t in threading.enumerate():
        if t.name.startswith(SAVE_THREAD_PREFIX):
            t.join(timeout=HANG_GUARD_S)
            assert not t.is_alive(), f"{t.name} hung"


def run_train(
    job_file: Path,
    out_dir: Path,
    *,
    nprocs: int,
    stop_after_step: int | None = None,
    env: Mapping[str, str] | None = None,
) -> list[WorkerResult]:
    """Run ``train()`` on ``nprocs`` ranks (torchrun; in this process's interpreter) and return each rank's result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("rank-*.json"):
        old.unlink()
    args = ["--job", str(job_file), "--out", str(out_dir)]
    if stop_after_step is not None:
        args += ["--stop-after-step", str(stop_after_step)]
    cmd = torchrun_command(nprocs, TRAIN_WORKER, *args) if nprocs > 1 else [sys.executable, str(TRAIN_WORKER), *args]
    proc = subprocess.run(cmd, env=quiet_env(env), cwd=REPO, capture_output=True, text=True, timeout=HANG_GUARD_S)
    if proc.returncode != 0:
        raise AssertionError(f"train run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return [WorkerResult.read(out_dir / f"rank-{r}.json") for r in range(nprocs)]


# ---------------------------------------------------------------------- object storage
