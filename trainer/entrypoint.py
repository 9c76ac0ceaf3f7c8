"""``python -m seer.trainer``: one worker process of a Seer job (under torchrun).

Maps every way a worker can end to an exit code (``seer.platform.contract``):
0 done; 75 preempted after a final checkpoint, lost a peer, or the final checkpoint could
not be written (retryable: a restart resumes from the newest complete one); 2 the job
is invalid; 1 any other error (fatal: restarting would fail the same way). The code
is also written to the run's exit record so the local supervisor can tell causes
apart even when torchrun reports only "a worker failed".
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import traceback
from datetime import timedelta

import torch
import torch.distributed as dist

from seer.platform.contract import EXIT_BAD_SPEC, EXIT_FAILED, EXIT_OK, EXIT_RETRYABLE
from seer.platform.lifeline import die_with_parent
from seer.platform.loading import SpecError
from seer.platform.run_lock import hold_workers_lock
from seer.trainer.runtime import Runtime, load_job_from_env

log = logging.getLogger("seer.trainer")


def _init_process_group(device_type: str, timeout_s: float) -> None:
    """torchrun gives us the rendezvous; alone we become rank 0 of a 1-process group
    (FSDP2 mixed precision needs a group even for one process).

    ``timeout_s`` bounds every collective: a peer whose node vanished without closing its
    connections (power loss, a partition) otherwise leaves the survivors blocked for the
    backend's default (30 minutes for gloo). Past it the step fails as a lost peer (exit
    75) and torchrun re-rendezvouses with the nodes that are left.
    """
    if "MASTER_ADDR" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))


def _is_peer_failure(exc: BaseException) -> bool:
    """A collective failed because another rank vanished: retryable, not our bug."""
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(
        s in text
        for s in (
            "connection closed by peer",
            "connection reset",
            "broken pipe",
            "timed out",
            "nccl",
            "gloo",
            "socket",
            "distbackenderror",
            "distnetworkerror",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seer.trainer", description="One worker of a Seer training job (normally started by torchrun)."
    )
    parser.add_argument("--job", help="job file (default: the SEER_JOB_SPEC environment variable)")
    args = parser.parse_args(argv)
    runtime = Runtime.from_env()

    from seer.trainer.reporting import record_exit, register_worker, setup_logging

    setup_logging(runtime)
    if runtime.run_dir is not None:
        # A local run: one writer group per run directory, and no worker outlives torchrun
        # (seer.platform.run_lock, seer.platform.lifeline).
        hold_workers_lock(runtime.run_dir)
        if not die_with_parent():
            log.error("torchrun is already gone; not starting")
            return EXIT_RETRYABLE
    try:
        job = load_job_from_env(args.job)
    except SpecError as exc:
        log.error("%s", exc.render())
        record_exit(runtime, EXIT_BAD_SPEC, "invalid job spec")
        return EXIT_BAD_SPEC

    from seer.trainer.loop import CheckpointNotSaved, NonFiniteLoss, train
    from seer.trainer.metrics import TrainerMetrics
    from seer.trainer.preemption import PreemptionWatch

    preemption = PreemptionWatch().install()
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    code, reason = EXIT_FAILED, "error"
    try:
        device_type = (
            "cuda"
            if job.spec.resources.device == "cuda"
            or (job.spec.resources.device == "auto" and torch.cuda.is_available())
            else "cpu"
        )
        _init_process_group(device_type, job.spec.training.collective_timeout_seconds)
        runtime = Runtime.from_env()  # RANK may have been set just now
        metrics = TrainerMetrics.create(job.name, runtime.rank)
        port = None
        if job.spec.metrics.enabled:
            base = job.spec.metrics.port
            port = metrics.serve(base + runtime.local_rank if base else 0)
        register_worker(runtime, metrics_port=port)
        result = train(job, runtime, preemption=preemption, metrics=metrics)
        if result.preempted:
            code, reason = EXIT_RETRYABLE, f"preempted at step {result.step} after a final checkpoint"
        else:
            code, reason = EXIT_OK, f"finished at step {result.step}"
    except NonFiniteLoss as exc:
        log.error("%s", exc)
        code, reason = EXIT_FAILED, str(exc)
    except CheckpointNotSaved as exc:  # reported by the checkpointer; docs/checkpoints.md says why 75
        code, reason = EXIT_RETRYABLE, str(exc)
    except SpecError as exc:
        log.error("%s", exc.render())
        code, reason = EXIT_BAD_SPEC, "invalid job spec"
    except KeyboardInterrupt:
        code, reason = EXIT_RETRYABLE, "interrupted"
    except Exception as exc:  # noqa: BLE001 - every failure must end in an exit record
        if preemption.requested or _is_peer_failure(exc):
            log.warning("stopped by a lost peer or a signal: %s", exc)
            code, reason = EXIT_RETRYABLE, f"lost a peer or preempted: {type(exc).__name__}: {exc}"
        else:
            log.error("training failed:\n%s", traceback.format_exc())
            code, reason = EXIT_FAILED, f"{type(exc).__name__}: {exc}"
    finally:
        record_exit(runtime, code, reason)
        if dist.is_initialized() and code == EXIT_OK:
            dist.destroy_process_group()
    log.info("exit %d: %s", code, reason)
    logging.shutdown()
    if code != EXIT_OK:
        # Peers may be stuck in a collective with us; don't wait for atexit/threads.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
