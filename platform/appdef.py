"""SeerJob -> TorchX AppDef: the one place that knows how a worker is launched.

Pure: no I/O. Both schedulers use it — ``local`` (TorchX ``local_cwd``: torchrun
processes on this machine) and ``kubernetes`` (our scheduler turns the AppDef into a
SeerJob custom resource; the operator launches the same torchrun line in each pod).

Invariants:
- Workers run ``torchrun ... -m seer.trainer`` with ``--max-restarts 0``: restarts are
  decided by *our* supervisor (local) or the operator (Kubernetes), which know about
  checkpoints and retryable causes; torchrun would restart on any failure.
- The whole job document travels in ``SEER_JOB_SPEC`` (JSON), so a worker needs no
  file and the spec that was validated is exactly the one that runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from torchx import specs

from seer.platform.spec import DEFAULT_IMAGE, SeerJob

ROLE = "trainer"
TRAINER_MODULE = "seer.trainer"
RDZV_PORT = 29400  #: the rendezvous pod's TCPStore port

#: Environment variables a worker reads (documented in docs/trainer.md).
ENV_SPEC = "SEER_JOB_SPEC"
ENV_RUN_DIR = "SEER_RUN_DIR"
ENV_RESTART_COUNT = "SEER_RESTART_COUNT"
ENV_ATTEMPT = "SEER_ATTEMPT"

Target = Literal["local", "kubernetes"]


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ('4', '500m') in cores."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def threads_per_proc(job: SeerJob, cpus: int | None = None) -> int:
    """Intra-op threads per process: the spec's value, else cores / processes (>= 1).

    ``cpus``: the cores the processes share (this machine's for a local run, the pod's
    CPU request on Kubernetes). NOTE: oversubscription is severe on small machines
    (2 cores, 2 processes with the default thread count runs several times slower), so
    this is always set.
    """
    if job.spec.resources.threads_per_proc:
        return job.spec.resources.threads_per_proc
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // job.spec.resources.procs_per_node)


def rendezvous_service_name(job_name: str) -> str:
    """The headless Service in front of a job's rendezvous pod (Kubernetes)."""
    return f"{job_name}-rdzv"


def worker_image(job: SeerJob) -> str:
    """The job's image, else the operator's configured default (the chart sets
    ``SEER_WORKER_IMAGE``), else the release image."""
    return job.spec.resources.image or os.environ.get("SEER_WORKER_IMAGE") or DEFAULT_IMAGE


def torchrun_args(job: SeerJob, target: Target, *, rdzv_id: str | None = None) -> list[str]:
    """The torchrun arguments (without the torchrun executable itself).

    Local: one node, ``--max-restarts 0`` — our supervisor restarts, knowing causes.
    Kubernetes: elastic ``MIN:MAX`` nodes, c10d rendezvous on a dedicated pod that no
    worker's loss takes down, and ``--max-restarts restart.maxRestarts`` so surviving
    workers re-rendezvous in place when a peer is lost while the operator replaces
    only the lost pod (with 0 every survivor would exit and the whole job restart).
    """
    r = job.spec.resources
    if target == "local":
        # --standalone picks a free rendezvous port, so two local jobs never collide.
        rdzv = ["--standalone", "--nnodes", "1"]
        restarts = 0
    else:
        rdzv = [
            "--nnodes",
            f"{r.nodes.min}:{r.nodes.max}",
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            f"{rendezvous_service_name(job.name)}:{RDZV_PORT}",
            "--rdzv-id",
            rdzv_id or job.name,
        ]
        restarts = job.spec.restart.max_restarts
    return [*rdzv, "--nproc-per-node", str(r.procs_per_node), "--max-restarts", str(restarts), "-m", TRAINER_MODULE]


def build_appdef(
    job: SeerJob,
    *,
    target: Target = "local",
    run_dir: Path | None = None,
    restart_count: int = 0,
    attempt: int = 1,
    python: str = sys.executable,
    cpus: int | None = None,
) -> specs.AppDef:
    """The AppDef for ``job``. ``run_dir`` is required for local runs (logs, progress)."""
    r = job.spec.resources
    if cpus is None and target == "kubernetes":
        cpus = int(cpu_cores(r.cpu))  # the pod's cores, not this machine's
    env = {
        ENV_SPEC: job.to_json(indent=None),
        ENV_RESTART_COUNT: str(restart_count),
        "OMP_NUM_THREADS": str(threads_per_proc(job, cpus)),
        "PYTHONUNBUFFERED": "1",
    }
    # Non-secret storage settings; credentials come from the environment (local) or the
    # Secret named in spec.storage.secretName (Kubernetes), never from the job file.
    if job.spec.storage.endpoint_url:
        env["AWS_ENDPOINT_URL"] = job.spec.storage.endpoint_url
    if job.spec.storage.region:
        env["AWS_REGION"] = job.spec.storage.region
    if target == "local":
        if run_dir is None:
            raise ValueError("a local run needs a run directory")
        env[ENV_RUN_DIR] = str(run_dir)
        env[ENV_ATTEMPT] = str(attempt)
        # torchrun as `python -m torch.distributed.run`: works without an activated venv.
        entrypoint, image = python, str(Path.cwd())
        args = ["-m", "torch.distributed.run", *torchrun_args(job, target)]
    else:
        entrypoint, image = "torchrun", worker_image(job)
        args = torchrun_args(job, target)
    mem_mb = _quantity_to_mb(r.memory)
    port_map = {"metrics": job.spec.metrics.port} if job.spec.metrics.enabled and job.spec.metrics.port else {}
    role = specs.Role(
        name=ROLE,
        image=image,
        entrypoint=entrypoint,
        args=args,
        env=env,
        num_replicas=1 if target == "local" else r.nodes.max,
        min_replicas=None if target == "local" else r.nodes.min,
        max_retries=0,
        resource=specs.Resource(cpu=max(1, int(cpu_cores(r.cpu))), gpu=r.gpus_per_node, memMB=mem_mb),
        port_map=port_map,
    )
    return specs.AppDef(name=job.name, roles=[role], metadata={"seer.dev/spec-hash": job.spec_hash()})


_UNITS = {
    "": 1 / 2**20,
    "k": 1e3 / 2**20,
    "Ki": 1 / 1024,
    "M": 1e6 / 2**20,
    "Mi": 1,
    "G": 1e9 / 2**20,
    "Gi": 1024,
    "T": 1e12 / 2**20,
    "Ti": 2**20,
}


def _quantity_to_mb(quantity: str) -> int:
    """A Kubernetes memory quantity ('16Gi', '500M') in MiB, as TorchX's Resource wants."""
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if suffix and quantity.endswith(suffix):
            return max(1, int(float(quantity[: -len(suffix)]) * _UNITS[suffix]))
    return max(1, int(float(quantity) * _UNITS[""]))
