"""How a worker tells the world what it does: log lines, progress events, exit records.

- Every rank logs to stderr (collected by torchrun / the container runtime) and, in a
  local run, to ``logs/rank-<r>.log`` (``seerctl logs --rank r``).
- Rank 0 appends progress events to ``events.jsonl`` (``seerctl status``, ``--wait``,
  ``seerctl plot``): one JSON object per line, flushed at once, so a reader sees whole
  lines or nothing of a line (a torn last line is skipped by readers).
- On exit every rank writes ``exits/attempt-<n>/rank-<r>.json`` with its exit code and
  reason; the local supervisor decides from those whether to restart.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from seer.platform.urls import redact_urls_in
from seer.trainer.runtime import Runtime

log = logging.getLogger("seer.trainer")


def setup_logging(runtime: Runtime) -> None:
    fmt = logging.Formatter(f"%(asctime)s [rank {runtime.rank}] %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    root.addHandler(stream)
    if runtime.run_dir is not None:
        logs = runtime.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(logs / f"rank-{runtime.rank}.log")
        file_handler.setFormatter(fmt)
        root.addHandler(file_handler)


class EventLog:
    """Rank 0's progress events; a no-op elsewhere and outside local runs."""

    def __init__(self, runtime: Runtime) -> None:
        self.path: Path | None = runtime.run_dir / "events.jsonl" if runtime.run_dir and runtime.is_main else None

    def emit(self, kind: str, **fields: Any) -> None:
        if self.path is None:
            return
        record = {"type": kind, "time": time.time(), **fields}
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=float) + "\n")


def register_worker(runtime: Runtime, *, metrics_port: int | None) -> None:
    """Write this process's pid (``seerctl cancel`` signals it) and metrics endpoint."""
    if runtime.run_dir is None:
        return
    pids = runtime.run_dir / "pids"
    pids.mkdir(parents=True, exist_ok=True)
    (pids / f"rank-{runtime.rank}.pid").write_text(str(os.getpid()))
    (pids / f"rank-{runtime.rank}.json").write_text(
        json.dumps({"pid": os.getpid(), "metrics_port": metrics_port, "local_rank": runtime.local_rank})
    )


def record_exit(runtime: Runtime, code: int, reason: str) -> None:
    if runtime.run_dir is None:
        return
    folder = runtime.run_dir / "exits" / f"attempt-{runtime.attempt}"
    folder.mkdir(parents=True, exist_ok=True)
    reason = redact_urls_in(reason)  # exception texts may quote a URL with credentials
    tmp = folder / f".rank-{runtime.rank}.json.tmp"
    tmp.write_text(json.dumps({"rank": runtime.rank, "exit_code": code, "reason": reason, "time": time.time()}))
    os.replace(tmp, folder / f"rank-{runtime.rank}.json")
    pid_file = runtime.run_dir / "pids" / f"rank-{runtime.rank}.pid"
    pid_file.unlink(missing_ok=True)
