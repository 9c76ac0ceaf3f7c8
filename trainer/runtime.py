"""What a worker learns from its environment: the job, its rank, where to report.

torchrun sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT``; the
launchers set the rest with ``seer.platform.worker.worker_env``: ``SEER_JOB_SPEC`` and
``SEER_RESTART_COUNT`` everywhere, ``SEER_RUN_DIR``/``SEER_ATTEMPT`` for local runs
(names in ``seer.platform.contract``). Run without torchrun
(``python -m seer.trainer --job FILE``) the worker is rank 0 of 1.

Imports only the contract, the spec and the job-file loader: a worker image needs no
torchx, kubernetes, kopf or rich (tests/trainer/test_worker_imports.py checks it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from seer.platform.contract import ENV_ATTEMPT, ENV_JOB_SPEC, ENV_RESTART_COUNT, ENV_RUN_DIR
from seer.platform.loading import Problem, SpecError, load_job, validate_document
from seer.platform.spec import SeerJob


@dataclass(frozen=True)
class Runtime:
    rank: int
    local_rank: int
    world_size: int
    run_dir: Path | None  # local runs only: events, per-rank logs, exit records
    restart_count: int
    attempt: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Runtime":
        e = os.environ if env is None else env
        run_dir = e.get(ENV_RUN_DIR)
        return cls(
            rank=int(e.get("RANK", 0)),
            local_rank=int(e.get("LOCAL_RANK", 0)),
            world_size=int(e.get("WORLD_SIZE", 1)),
            run_dir=Path(run_dir) if run_dir else None,
            restart_count=int(e.get(ENV_RESTART_COUNT, 0) or 0),
            attempt=int(e.get(ENV_ATTEMPT, 1) or 1),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def load_job_from_env(job_file: str | None = None) -> SeerJob:
    """The job from ``--job FILE`` or ``SEER_JOB_SPEC`` (raises SpecError when missing or
    invalid: the worker then exits 2, which no supervisor retries)."""
    if job_file:
        return load_job(job_file)
    raw = os.environ.get(ENV_JOB_SPEC)
    if not raw:
        raise SpecError(
            ENV_JOB_SPEC, [Problem("", f"no job: set {ENV_JOB_SPEC} (seerctl and the operator do) or pass --job FILE")]
        )
    return validate_document(json.loads(raw), source=ENV_JOB_SPEC)


def checkpoint_url(job: SeerJob, runtime: Runtime) -> str:
    """The spec's URL, else ``checkpoints/`` of the local run directory."""
    if job.spec.checkpoint.url:
        return job.spec.checkpoint.url
    if runtime.run_dir is None:
        raise SpecError(
            ENV_JOB_SPEC,
            [Problem("spec.checkpoint.url", "required outside a local run (e.g. s3://bucket/seer/<job>/)")],
        )
    return str(runtime.run_dir / "checkpoints")
