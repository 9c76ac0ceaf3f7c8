"""How a worker is launched: its command line and its environment, for both targets (pure).

The one place that knows it. The local launcher (TorchX AppDef, ``seer.platform.appdef``)
and the operator's pod manifests (``seer.operators.children``) both call
:func:`worker_env` and :func:`torchrun_args`; the trainer reads the result back
(``seer.trainer.runtime``). Imports only the pydantic spec and the contract: no torchx,
no kubernetes, so the operator, ``seerctl --dry-run`` and tests use it cheaply.

Invariants:
- The whole job document travels in ``SEER_JOB_SPEC`` as :func:`spec_json` (one
  serialisation: compact, keys sorted), so a worker needs no file and the spec that
  was validated is exactly the one that runs.
- Local: ``torchrun --standalone --max-restarts 0``; restarts are the supervisor's
  (it knows causes and checkpoints, torchrun would restart on any failure).
- Kubernetes: elastic ``MIN:MAX`` nodes, c10d rendezvous on a dedicated pod, and
  ``--max-restarts restart.maxRestarts`` so *surviving* workers re-rendezvous in place
  while the operator replaces only the lost pod (docs/architecture.md, "Restarts").
- Credentials never travel here: locally they come from the user's environment, on
  Kubernetes from ``secretKeyRef`` entries the operator adds (S3) or from a file the
  operator mounts from the Secret (GCS; only its *path* is set here).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from seer.platform import contract
from seer.platform.spec import DEFAULT_IMAGE, SeerJob
from seer.platform.spec_types import cpu_cores

Target = Literal["local", "kubernetes"]


def spec_json(job: SeerJob) -> str:
    """The job document as the worker receives it (``SEER_JOB_SPEC``)."""
    return json.dumps(job.to_document(), sort_keys=True, separators=(",", ":"))


def threads_per_proc(job: SeerJob, cpus: int | None = None) -> int:
    """Intra-op threads per process: the spec's value, else cores / processes (>= 1).

    ``cpus``: the cores the processes share (this machine's for a local run, the pod's
    CPU request on Kubernetes). Always set: oversubscription is severe on small
    machines (2 cores, 2 processes with torch's default thread count runs several
    times slower).
    """
    if job.spec.resources.threads_per_proc:
        return job.spec.resources.threads_per_proc
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // job.spec.resources.procs_per_node)


def pod_cpus(job: SeerJob) -> int:
    """The whole cores a worker pod requests, at least 1 (threads follow the pod, not the
    operator's machine: a 500m pod gets one thread, not the operator node's core count)."""
    return max(1, int(cpu_cores(job.spec.resources.cpu)))


def rendezvous_service_name(job_name: str) -> str:
    """The headless Service in front of a job's rendezvous pod (Kubernetes)."""
    return f"{job_name}-rdzv"


def worker_image(job: SeerJob) -> str:
    """The job's image, else the operator's configured default (``SEER_WORKER_IMAGE``,
    set by the chart), else the release image."""
    return job.spec.resources.image or os.environ.get(contract.ENV_WORKER_IMAGE) or DEFAULT_IMAGE


#: Kubernetes' image pull policies (``workerDefaults.imagePullPolicy`` in the chart).
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


def worker_image_pull_policy() -> str | None:
    """The operator's configured pull policy of worker images (``SEER_WORKER_IMAGE_PULL_POLICY``,
    set by the chart), else None (Kubernetes' default). An unknown value raises, naming the fix."""
    policy = os.environ.get(contract.ENV_WORKER_IMAGE_PULL_POLICY) or None
    if policy is not None and policy not in PULL_POLICIES:
        raise ValueError(
            f"{contract.ENV_WORKER_IMAGE_PULL_POLICY}={policy!r} is not an image pull policy: "
            f"set the chart's workerDefaults.imagePullPolicy to one of {', '.join(PULL_POLICIES)}"
        )
    return policy


def worker_service_account() -> str | None:
    """The ServiceAccount of worker pods (``SEER_WORKER_SERVICE_ACCOUNT``, the chart's
    ``workerDefaults.serviceAccountName``: the identity workload identity / IRSA binds to the
    bucket), else None (the namespace's ``default``)."""
    return os.environ.get(contract.ENV_WORKER_SERVICE_ACCOUNT) or None


def torchrun_args(job: SeerJob, target: Target, *, rdzv_id: str | None = None) -> list[str]:
    """The torchrun arguments, without the torchrun executable itself (see the module invariants)."""
    resources = job.spec.resources
    if target == "local":
        # --standalone picks a free rendezvous port, so two local jobs never collide.
        rendezvous = ["--standalone", "--nnodes", "1"]
        max_restarts = 0
    else:
        rendezvous = [
            "--nnodes",
            f"{resources.nodes.min}:{resources.nodes.max}",
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            f"{rendezvous_service_name(job.name)}:{contract.RDZV_PORT}",
            "--rdzv-id",
            rdzv_id or job.name,
        ]
        max_restarts = job.spec.restart.max_restarts
    return [
        *rendezvous,
        "--nproc-per-node",
        str(resources.procs_per_node),
        "--max-restarts",
        str(max_restarts),
        "-m",
        contract.TRAINER_MODULE,
    ]


def local_command(job: SeerJob, python: str = sys.executable) -> list[str]:
    """The command a local run starts: torchrun as ``python -m torch.distributed.run``,
    which works without an activated virtual environment."""
    return [python, "-m", "torch.distributed.run", *torchrun_args(job, "local")]


def _protocol(url: str) -> str:
    """``s3``, ``gs`` or another fsspec protocol of ``url``; ``file`` for a local path (same
    rule as ``seer.trainer.storage.protocol_of``, which platform may not import)."""
    scheme = urlsplit(url).scheme
    if scheme in ("", "file", "local") or len(scheme) == 1:
        return "file"
    return {"s3a": "s3", "gcs": "gs"}.get(scheme, scheme)


def storage_protocols(job: SeerJob) -> frozenset[str]:
    """The protocols of every URL the workers read or write (data, checkpoints, evaluation)."""
    spec = job.spec
    urls = [*spec.data.sources, spec.checkpoint.url, spec.eval.train_url, spec.eval.test_url]
    return frozenset(_protocol(str(url)) for url in urls if url)


def uses_gcs_key_file(job: SeerJob) -> bool:
    """True when worker pods mount a GCS service-account key from ``storage.secretName``:
    the job uses ``gs://`` and names a Secret. Without a Secret, gcsfs uses the pod's own
    identity (GKE workload identity), so nothing is mounted."""
    return bool(job.spec.storage.secret_name) and "gs" in storage_protocols(job)


def uses_aws_secret_keys(job: SeerJob) -> bool:
    """True when the AWS keys of ``storage.secretName`` become worker env (``secretKeyRef``):
    a Secret is named and the job is not GCS-only (a GCS-only Secret has no AWS keys, and a
    missing required key would keep the pod from starting)."""
    protocols = storage_protocols(job)
    return bool(job.spec.storage.secret_name) and ("s3" in protocols or "gs" not in protocols)


def worker_env(
    job: SeerJob,
    *,
    target: Target,
    restart_count: int = 0,
    run_dir: Path | None = None,
    attempt: int = 1,
    cpus: int | None = None,
) -> dict[str, str]:
    """The plain environment of every worker process of ``job``.

    ``cpus``: cores the processes share; defaults to this machine's (local) or the pod's
    CPU request (Kubernetes). ``run_dir`` is required for local runs. The operator turns
    the dict into the pod's ``env`` list and adds what only Kubernetes has (fieldRefs,
    secretKeyRefs).
    """
    if cpus is None and target == "kubernetes":
        cpus = pod_cpus(job)
    env = {
        contract.ENV_JOB_SPEC: spec_json(job),
        contract.ENV_RESTART_COUNT: str(restart_count),
        contract.ENV_OMP_NUM_THREADS: str(threads_per_proc(job, cpus)),
        "PYTHONUNBUFFERED": "1",
    }
    storage = job.spec.storage
    if storage.endpoint_url:
        env[contract.ENV_STORAGE_ENDPOINT] = storage.endpoint_url
    if storage.region:
        env[contract.ENV_STORAGE_REGION] = storage.region
    if storage.addressing_style != "auto":
        env[contract.ENV_S3_ADDRESSING_STYLE] = storage.addressing_style
    if target == "kubernetes":
        # Read-only root filesystem: everything a worker writes goes to the /tmp emptyDir.
        env.update(contract.SCRATCH_ENV)
    if target == "kubernetes" and uses_gcs_key_file(job):
        # The file the operator mounts from the Secret (``seer.operators.children``).
        env[contract.ENV_GOOGLE_CREDENTIALS] = f"{contract.GCS_CREDENTIALS_DIR}/{contract.GCS_SECRET_KEY}"
    if target == "local":
        if run_dir is None:
            raise ValueError("a local run needs a run directory")
        env[contract.ENV_RUN_DIR] = str(run_dir)
        env[contract.ENV_ATTEMPT] = str(attempt)
    return env
