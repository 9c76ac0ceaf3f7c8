"""Who may write a local run directory: advisory locks that die with their holders.

Two ``fcntl.flock`` locks in the run directory (Linux and macOS; standard library only):

- ``.lock``, **exclusive**, the run's owner. ``seerctl submit`` takes it *before* it
  checks the name and keeps it while it writes ``state.json`` and starts the supervisor,
  which inherits the very same open file (``pass_fds``) and holds it for its lifetime.
  So "name check + state write + start" is atomic: a second submit of the name, or a
  second supervisor on the directory, fails to take the lock and is refused.
- ``.workers.lock``, **shared**, taken by every worker process for its lifetime. A new
  owner (``submit``/``--resume``) probes it exclusively: while any worker of an earlier
  group still lives (e.g. finishing its final checkpoint after its supervisor was
  killed), the probe fails and the submit is refused. Two groups never write one
  directory at the same time.

Why flock and not a pid file: the kernel releases a flock when the last descriptor of
its open file closes, which happens however the holder dies (SIGKILL included), and
pids get reused. A lock is never "stale", so nothing has to guess.

The lock files are never moved or deleted (``--fresh`` archives everything else), so
every process locks the same inode.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

OWNER_LOCK = ".lock"
WORKERS_LOCK = ".workers.lock"
#: Names that stay in a run directory when ``--fresh`` archives it.
LOCK_FILES = frozenset({OWNER_LOCK, WORKERS_LOCK})

#: Descriptors this process holds for its lifetime (never closed: closing would release).
_held: list[int] = []


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def try_lock_owner(run_dir: Path, *, patience_s: float = 0.0) -> int | None:
    """The run's exclusive owner lock as an open descriptor, or None when another process
    (a submit in progress, or a live supervisor) holds it. The caller keeps the descriptor
    open for as long as it owns the run (or hands it to the supervisor).

    ``patience_s``: keep trying that long. An owner holds the lock for good, so waiting
    changes no outcome between two submits; it only outlasts the instant a reader's probe
    (:func:`owner_alive`, e.g. ``seerctl status`` in a loop) holds it."""
    path = run_dir / OWNER_LOCK
    deadline = time.monotonic() + patience_s
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, path):
                return fd
            # The directory was deleted (``seerctl delete``) between our open and our lock:
            # the lock we hold is on a file nobody else will open. Take the new one.
            os.close(fd)
            continue
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def owner_alive(run_dir: Path) -> bool:
    """True while some process owns the run (holds ``.lock``). A probe: it takes a shared
    lock for an instant and never blocks; a submit probing at that very instant is told
    the run is busy, which is safe (it can be retried)."""
    return _busy(run_dir / OWNER_LOCK)


def hold_workers_lock(run_dir: Path) -> None:
    """Called once by every worker of a local run: a shared lock on ``.workers.lock`` kept
    until the process ends (the kernel releases it then, however it ends)."""
    fd = _open(run_dir / WORKERS_LOCK)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held.append(fd)


def workers_alive(run_dir: Path) -> bool:
    """True while any worker process of the run (of any attempt) is alive."""
    return _busy(run_dir / WORKERS_LOCK, exclusive=True)


def _busy(path: Path, *, exclusive: bool = False) -> bool:
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's lock
    return False
