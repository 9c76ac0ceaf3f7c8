"""Processes that die with their parent: ``prctl(PR_SET_PDEATHSIG)`` (Linux), standard library only.

A local run is a chain: supervisor -> torchrun -> workers. If the supervisor is killed
(SIGKILL, the OOM killer), nothing else would stop torchrun and its workers: they would
train on, orphaned, with nobody to record how they end, and a ``--resume`` would start
a second group in the same run directory. So every link asks the kernel to signal it
when its parent dies:

- torchrun is started through ``python -m seer.platform.lifeline PARENT_PID -- ARGS``,
  which sets the death signal to SIGTERM and then ``exec``\\ s ``python ARGS`` (the
  setting survives ``exec``; the pid, hence the parent link, stays). SIGTERM, not SIGKILL:
  torchrun stops its workers with SIGTERM, and they write a final checkpoint and exit 75
  as on any preemption.
- every worker of a local run sets the same for itself (its parent is torchrun), so a
  killed torchrun does not orphan it either (``seer.trainer.entrypoint``).

Why the kernel and not a watchdog thread polling the supervisor's pid: the signal is
sent when the parent dies, however it dies, with no polling interval and no pid reuse
to be fooled by. The one race, the parent dying before the child set the signal, is
closed by checking ``getppid()`` after setting it. Elsewhere than Linux it is a no-op
(the run directory's locks, ``seer.platform.run_lock``, still refuse a second writer).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None = None, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies. Returns False
    when the parent is already gone (``getppid()`` is no longer ``expected_parent``; by
    default the parent seen now). Always True where unsupported (not Linux)."""
    parent = os.getppid() if expected_parent is None else expected_parent
    if not sys.platform.startswith("linux"):
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    return os.getppid() == parent


def wrap(args: list[str], parent: int) -> list[str]:
    """``python args`` as started through the lifeline of ``parent`` (arguments for ``python``)."""
    return ["-m", "seer.platform.lifeline", str(parent), "--", *args]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m seer.platform.lifeline PARENT_PID -- PYTHON_ARGS...", file=sys.stderr)
        return 2
    if not die_with_parent(int(argv[0])):
        print(f"seer.platform.lifeline: parent {argv[0]} is already gone; not starting", file=sys.stderr)
        return 1
    os.execv(sys.executable, [sys.executable, *argv[2:]])
    return 1  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
