"""Local run directories: where a local job keeps its spec, state, logs and progress.

Layout (``$SEER_HOME`` defaults to ``~/.seer``)::

    $SEER_HOME/runs/<name>/
        job.yaml          the validated job, defaults filled in
        state.json        phase, supervisor pid, restarts, times (written atomically)
        events.jsonl      progress from rank 0: one JSON object per logged step / checkpoint
        checkpoints/      default checkpoint location (spec.checkpoint.url overrides)
        logs/             supervisor.log, rank-<r>.log, attempt-<n>/ (TorchX local_cwd logs)
        exits/attempt-<n>/rank-<r>.json   how each worker process ended

Readers (``seerctl status/list/logs``) only read; the supervisor is the only writer of
``state.json`` after submission. Writes go to a temporary file and are renamed, so a
reader never sees half a state.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from seer.platform.urls import redact_strings

#: Phases shared with the Kubernetes status (plus Cancelled, which only exists locally).
ACTIVE_PHASES = ("Pending", "Running", "Restarting")
FINAL_PHASES = ("Succeeded", "Failed", "Cancelled")


def seer_home() -> Path:
    return Path(os.environ.get("SEER_HOME") or Path.home() / ".seer")


def runs_root() -> Path:
    return seer_home() / "runs"


@dataclass
class RunState:
    """What the supervisor knows about a local run (``state.json``)."""

    name: str
    phase: str = "Pending"
    reason: str = ""
    message: str = ""
    scheduler: str = "local"
    supervisor_pid: int | None = None
    submit_time: float = field(default_factory=time.time)
    start_time: float | None = None
    completion_time: float | None = None
    restarts: int = 0
    attempt: int = 0
    restart_reasons: list[str] = field(default_factory=list)
    #: One entry per attempt, written by the supervisor: ``attempt``, ``startedAt``,
    #: ``endedAt`` (epoch s), ``action`` (restart|succeed|fail|cancelled), ``reason``,
    #: ``backoffSeconds`` (the wait before the next attempt; 0 for the last).
    history: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False
    exit_code: int | None = None
    app_handle: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunState":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class RunDir:
    """Paths of one local run. Creating the object touches nothing on disk."""

    path: Path

    @classmethod
    def for_job(cls, name: str) -> "RunDir":
        return cls(runs_root() / name)

    @property
    def name(self) -> str:
        return self.path.name

    job_file = property(lambda self: self.path / "job.yaml")
    state_file = property(lambda self: self.path / "state.json")
    events_file = property(lambda self: self.path / "events.jsonl")
    checkpoints = property(lambda self: self.path / "checkpoints")
    logs = property(lambda self: self.path / "logs")
    pids = property(lambda self: self.path / "pids")

    def exits(self, attempt: int) -> Path:
        return self.path / "exits" / f"attempt-{attempt}"

    def rank_log(self, rank: int) -> Path:
        return self.logs / f"rank-{rank}.log"

    def exists(self) -> bool:
        return self.state_file.exists()

    def read_state(self) -> RunState | None:
        try:
            return RunState.from_dict(json.loads(self.state_file.read_text()))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:  # a writer crashed before rename: impossible, but never fatal
            return None

    def write_state(self, state: RunState) -> None:
        """Write ``state.json`` atomically, every URL in it redacted (``seer.platform.urls``):
        messages quote exception texts, which may quote a URL with credentials."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.state_file, redact_strings(asdict(state)))

    def update_state(self, **changes: Any) -> RunState:
        state = self.read_state() or RunState(name=self.name)
        for key, value in changes.items():
            setattr(state, key, value)
        self.write_state(state)
        return state

    def events(self) -> Iterator[dict[str, Any]]:
        """Progress events written by rank 0, oldest first; a torn last line is skipped."""
        try:
            with self.events_file.open() as f:
                for line in f:
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue
        except FileNotFoundError:
            return

    def worker_pids(self) -> list[int]:
        out = []
        for p in sorted(self.pids.glob("rank-*.pid")) if self.pids.exists() else []:
            try:
                out.append(int(p.read_text().strip()))
            except (ValueError, OSError):
                continue
        return out

    def live_worker_pids(self) -> list[int]:
        """Registered workers that are alive *and* belong to this run: a pid file can be left
        by a worker that died without cleaning up, and its pid reused by anything; where
        ``/proc`` exists a process counts only with this run's ``SEER_RUN_DIR`` in its
        environment (what ``seerctl cancel`` signals must be ours)."""
        return [pid for pid in self.worker_pids() if pid_alive(pid) and _started_for(pid, self.path)]


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _started_for(pid: int, run_dir: Path) -> bool:
    """Whether process ``pid`` was started for ``run_dir`` (True where /proc is unreadable)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust the pid file
    except OSError:
        return True
    prefix = b"SEER_RUN_DIR="
    wanted = os.path.realpath(run_dir)
    return any(
        os.path.realpath(os.fsdecode(entry[len(prefix) :])) == wanted
        for entry in environ.split(b"\0")
        if entry.startswith(prefix)
    )


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); look at /proc where it exists.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def supervisor_alive(run: "RunDir", state: RunState) -> bool:
    """Whether the run has a live owner: its owner lock is held (``seer.platform.run_lock``;
    the truth, immune to pid reuse). Run directories written before the lock existed fall
    back to the supervisor's pid."""
    from seer.platform.run_lock import OWNER_LOCK, owner_alive

    if (run.path / OWNER_LOCK).exists():
        return owner_alive(run.path)
    return pid_alive(state.supervisor_pid)


def effective_phase(state: RunState, run: "RunDir | None" = None) -> str:
    """The phase to show: an active run whose supervisor died is reported Failed (Lost),
    unless workers of it still run (orphans finishing a final checkpoint: it *is* still
    running, and ``seerctl cancel`` stops them). With ``run``, both are read from the run's
    locks (``seer.platform.run_lock``), else from the supervisor's pid."""
    if state.phase not in ACTIVE_PHASES:
        return state.phase
    if run is None:
        return state.phase if pid_alive(state.supervisor_pid) else "Failed"
    from seer.platform.run_lock import workers_alive

    if supervisor_alive(run, state) or workers_alive(run.path):
        return state.phase
    return "Failed"


def list_runs() -> list[RunDir]:
    root = runs_root()
    if not root.exists():
        return []
    return sorted((RunDir(p) for p in root.iterdir() if (p / "state.json").exists()), key=lambda r: r.name)


def signal_pids(pids: list[int], sig: signal.Signals) -> int:
    """Send ``sig`` to every live pid; returns how many were signalled."""
    n = 0
    for pid in pids:
        try:
            os.kill(pid, sig)
            n += 1
        except (ProcessLookupError, PermissionError):
            continue
    return n
