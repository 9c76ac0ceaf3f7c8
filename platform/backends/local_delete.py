"""``seerctl delete`` for local jobs: forget a run (its directory: state, logs, events, and
local checkpoints) once it has stopped.

Invariant: a run is deleted only while this process holds its owner lock
(``seer.platform.run_lock``) and no worker of it lives, so no supervisor, submit or worker
writes into the directory while it goes. ``--force`` first kills what still runs (SIGKILL:
a deleted job needs no final checkpoint), then takes the lock the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

from seer.platform.backends.api import JobRunning
from seer.platform.run_lock import try_lock_owner, workers_alive
from seer.platform.runs import RunDir, pid_alive, signal_pids

#: How long --force waits for killed processes to release the run's locks (SIGKILL is
#: immediate; this only covers the kernel tearing the processes down).
FORCE_WAIT_S = 30.0


def delete_local_run(run: RunDir, *, force: bool = False) -> str:
    """Remove ``run``'s directory; refuse (`JobRunning`) while it runs unless ``force``."""
    lock_fd = _lock_stopped(run)
    if lock_fd is None:
        if not force:
            raise JobRunning(
                f"job {run.name!r} is running: cancel it first (`seerctl cancel {run.name}`; workers write a "
                "final checkpoint), or delete it anyway with --force (no final checkpoint)"
            )
        state = run.read_state()
        pids = [pid for pid in [state.supervisor_pid if state else None] if pid and pid_alive(pid)]
        signal_pids(pids + run.live_worker_pids(), signal.SIGKILL)
        deadline = time.monotonic() + FORCE_WAIT_S
        while (lock_fd := _lock_stopped(run)) is None:
            if time.monotonic() > deadline:
                raise JobRunning(f"processes of job {run.name!r} did not stop after SIGKILL; nothing deleted")
            time.sleep(0.1)
    try:
        shutil.rmtree(run.path)
    finally:
        os.close(lock_fd)
    return f"deleted local job {run.name!r} ({run.path})"


def _lock_stopped(run: RunDir) -> int | None:
    """The run's owner lock, held, when nothing of the run runs; else None."""
    fd = try_lock_owner(run.path)
    if fd is not None and workers_alive(run.path):
        os.close(fd)
        return None
    return fd
