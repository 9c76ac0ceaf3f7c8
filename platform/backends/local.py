"""Jobs as processes on this machine: one detached supervisor per job
(``seer.platform.local_supervisor``), everything of a job in its run directory
(``seer.platform.runs``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seer.platform.backends.api import JobExists, JobNotFound, JobStatus
from seer.platform.loading import load_job
from seer.platform.run_lock import LOCK_FILES, try_lock_owner, workers_alive
from seer.platform.runs import (
    ACTIVE_PHASES,
    RunDir,
    RunState,
    effective_phase,
    list_runs,
    runs_root,
    signal_pids,
    supervisor_alive,
)
from seer.platform.spec import SeerJob
from seer.platform.worker import local_command


def local_status(run: RunDir) -> JobStatus:
    state = run.read_state() or RunState(name=run.name)
    status = JobStatus(
        name=run.name,
        scheduler="local",
        phase=effective_phase(state, run),
        reason=state.reason,
        message=state.message,
        start_time=state.start_time,
        completion_time=state.completion_time,
        restarts=state.restarts,
    )
    if state.phase in ACTIVE_PHASES and not supervisor_alive(run, state):
        status.reason, status.message = "SupervisorLost", f"supervisor pid {state.supervisor_pid} is gone"
        if status.phase in ACTIVE_PHASES:  # its workers outlived it
            orphans = ", ".join(map(str, run.live_worker_pids())) or "not yet registered"
            status.message += (
                f"; its workers (pids {orphans}) still run until they stop after a final checkpoint: "
                f"`seerctl cancel {run.name}` stops them now"
            )
    for event in run.events():
        kind = event.get("type")
        if kind == "start":
            status.total_steps = event.get("total_steps")
        elif kind == "step":
            status.step, status.epoch, status.loss, status.images_per_s = (
                event.get("step"),
                event.get("epoch"),
                event.get("loss"),
                event.get("images_per_s"),
            )
        elif kind == "checkpoint":
            status.last_checkpoint_step, status.last_checkpoint_time = event.get("step"), event.get("time")
        elif kind == "eval":
            status.extra["eval"] = event.get("results")
        elif kind == "end":
            status.step = event.get("step", status.step)
    return status


class LocalBackend:
    """Jobs as processes on this machine, one detached supervisor per job."""

    name = "local"

    def run_dir(self, name: str) -> RunDir:
        return RunDir.for_job(name)

    def _existing(self, name: str) -> RunDir:
        run = self.run_dir(name)
        if not run.exists():
            known = ", ".join(r.name for r in list_runs()) or "none"
            raise JobNotFound(f"no local job named {name!r} (local jobs: {known})")
        return run

    def check_name_free(self, job: SeerJob, *, resume: bool, fresh: bool) -> None:
        """Refuse a name that is taken. Called by :meth:`submit` with the run's owner lock
        held, so no supervisor of this run is alive: a state still "active" is a lost run."""
        run = self.run_dir(job.name)
        state = run.read_state()
        if state is None:
            return
        if fresh and job.spec.checkpoint.url:
            raise JobExists(
                f"--fresh cannot forget checkpoints at spec.checkpoint.url ({job.spec.checkpoint.url}): "
                "a new run would resume from them. Point checkpoint.url at a new location (or empty it) instead"
            )
        phase = "Failed" if state.phase in ACTIVE_PHASES else state.phase
        if not (resume or fresh):
            raise JobExists(
                f"job {job.name!r} already exists ({phase}). Use --resume to continue from its checkpoints, "
                f"or --fresh to start over (the old run is kept under {runs_root() / '.archive'})"
            )

    def submit(self, job: SeerJob, *, resume: bool = False, fresh: bool = False) -> str:
        """Check the name, write the state and start the supervisor, atomically: all under
        the run's owner lock, which the supervisor inherits (``seer.platform.run_lock``)."""
        run = self.run_dir(job.name)
        lock_fd = try_lock_owner(run.path, patience_s=1.0)
        if lock_fd is None:
            raise JobExists(
                f"job {job.name!r} is already running (or being submitted right now); "
                f"cancel it with `seerctl cancel {job.name}` or pick another metadata.name"
            )
        try:
            return self._submit_locked(job, run, lock_fd, resume=resume, fresh=fresh)
        finally:
            os.close(lock_fd)  # the supervisor holds its own copy of the lock from now on

    def _submit_locked(self, job: SeerJob, run: RunDir, lock_fd: int, *, resume: bool, fresh: bool) -> str:
        self.check_name_free(job, resume=resume, fresh=fresh)
        if workers_alive(run.path):
            raise JobExists(
                f"workers of an earlier run of {job.name!r} are still running (their supervisor is gone; they "
                f"stop after a final checkpoint): wait for them, or stop them with `seerctl cancel {job.name}`"
            )
        if fresh and run.exists():
            archive = runs_root() / ".archive" / f"{job.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            archive.mkdir(parents=True)
            for child in run.path.iterdir():  # the lock files stay: every process locks one inode
                if child.name not in LOCK_FILES:
                    shutil.move(str(child), str(archive / child.name))
        previous = run.read_state()
        run.path.mkdir(parents=True, exist_ok=True)
        run.logs.mkdir(exist_ok=True)
        run.job_file.write_text(job.to_yaml())
        state = RunState(name=job.name)
        if previous is not None:  # --resume keeps history: restarts, attempts
            state.restarts, state.attempt, state.restart_reasons, state.history = (
                previous.restarts,
                previous.attempt,
                previous.restart_reasons,
                previous.history,
            )
            state.start_time = previous.start_time
        run.write_state(state)
        with (run.logs / "supervisor.log").open("ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "seer.platform.local_supervisor", str(run.path), "--lock-fd", str(lock_fd)],
                pass_fds=(lock_fd,),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=Path.cwd(),
            )
        # No state write after the start: the supervisor records its own pid (one writer of state.json).
        return job.name

    def status(self, name: str) -> JobStatus:
        return local_status(self._existing(name))

    def list(self) -> list[JobStatus]:
        return [local_status(r) for r in list_runs()]

    def cancel(self, name: str) -> str:
        run = self._existing(name)
        state = run.read_state()
        assert state is not None
        if state.phase in ACTIVE_PHASES and supervisor_alive(run, state):
            if not state.supervisor_pid:
                return f"job {name!r} is starting; cancel it again in a moment"
            # The supervisor records the cancel and forwards SIGTERM to the workers, which
            # checkpoint and exit (it alone writes state.json while it lives).
            signal_pids([state.supervisor_pid], signal.SIGTERM)
            return f"cancelling {name!r}: workers write a final checkpoint and stop"
        orphans = run.live_worker_pids()
        if orphans:  # the supervisor is gone (killed), its workers are not: stop them directly
            signal_pids(orphans, signal.SIGTERM)
            if state.phase in ACTIVE_PHASES:
                run.update_state(
                    phase="Cancelled",
                    reason="Cancelled",
                    message=f"cancelled after its supervisor was lost; stopped workers {orphans}",
                    cancel_requested=True,
                    completion_time=time.time(),
                )
            return (
                f"cancelling {name!r}: its supervisor is gone; its orphaned workers (pids "
                f"{', '.join(map(str, orphans))}) write a final checkpoint and stop"
            )
        return f"job {name!r} is not running ({effective_phase(state, run)}); nothing to cancel"

    def logs(self, name: str, *, rank: int | None, follow: bool) -> Iterator[str]:
        run = self._existing(name)
        if rank is not None:
            files = [run.rank_log(rank)]
        else:
            attempts = sorted(run.logs.glob("attempt-*"), key=lambda p: int(p.name.split("-")[1]))
            files = [run.logs / "supervisor.log"]
            if attempts:
                files = sorted(attempts[-1].rglob("combined.log")) or files
        yield from _tail(
            files,
            follow=follow,
            alive=lambda: effective_phase(run.read_state() or RunState(name), run) in ACTIVE_PHASES,
        )

    def events(self, name: str) -> Iterator[dict[str, Any]]:
        return self._existing(name).events()

    def describe(self, name: str) -> dict[str, Any]:
        run = self._existing(name)
        job = load_job(run.job_file)
        state = run.read_state()
        return {
            "status": local_status(run).to_dict(),
            "runDir": str(run.path),
            "command": local_command(job),
            "restartReasons": state.restart_reasons if state else [],
            "checkpoints": [e for e in run.events() if e.get("type") == "checkpoint"][-5:],
            "job": job.to_document(),
        }


def _tail(files: list[Path], *, follow: bool, alive) -> Iterator[str]:
    offsets: dict[Path, int] = {}
    while True:
        for f in files:
            try:
                with f.open("r", errors="replace") as fh:
                    fh.seek(offsets.get(f, 0))
                    for line in fh:
                        yield line.rstrip("\n")
                    offsets[f] = fh.tell()
            except FileNotFoundError:
                continue
        if not follow or not alive():
            return
        time.sleep(0.5)
