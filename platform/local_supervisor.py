"""Supervises one local run: launches it through TorchX ``local_cwd`` and restarts it.

Runs as its own detached process (``python -m seer.platform.local_supervisor RUN_DIR``)
so a job outlives the ``seerctl`` that submitted it. It is the only writer of the
run's ``state.json``.

Why our own loop and not torchrun's ``--max-restarts``: torchrun restarts on *any*
failure. We restart only for retryable causes (preemption, a worker killed by a
signal, a lost peer) and fail fast on application errors, the same policy the
Kubernetes operator applies — so a job behaves alike on a laptop and on a cluster.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seer.platform.appdef import build_appdef
from seer.platform.exitcodes import EXIT_OK, is_retryable_exit
from seer.platform.loading import load_job
from seer.platform.runs import RunDir, signal_pids
from seer.platform.spec import RestartSpec

log = logging.getLogger("seer.supervisor")

Action = Literal["succeed", "fail", "restart", "cancelled"]


@dataclass(frozen=True)
class WorkerExit:
    rank: int
    exit_code: int | None  # None: no report, the process died by a signal
    reason: str = ""


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    message: str
    backoff_seconds: float = 0.0


def backoff(restart: RestartSpec, restarts_so_far: int) -> float:
    """Exponential backoff: ``backoffSeconds * 2**n``, capped at ``maxBackoffSeconds``."""
    return min(restart.max_backoff_seconds, restart.backoff_seconds * (2**restarts_so_far))


def decide(
    *,
    app_succeeded: bool,
    exits: list[WorkerExit],
    expected_ranks: int,
    cancel_requested: bool,
    restarts_so_far: int,
    restart: RestartSpec,
) -> Decision:
    """What to do after an attempt ended. Pure; table-tested.

    An application error on any rank wins over retryable causes on others (the
    others typically died *because* of it). Missing reports mean death by signal.
    """
    if cancel_requested:
        return Decision("cancelled", "Cancelled", "cancelled by the user")
    if app_succeeded and all(e.exit_code == EXIT_OK for e in exits) and len(exits) >= expected_ranks:
        return Decision("succeed", "Completed", "training finished")
    reported = {e.rank: e for e in exits}
    fatal = [e for e in exits if e.exit_code not in (None, EXIT_OK) and not is_retryable_exit(e.exit_code)]
    if fatal:
        first = min(fatal, key=lambda e: e.rank)
        return Decision(
            "fail",
            "ApplicationError",
            f"rank {first.rank} exited with code {first.exit_code}: {first.reason or 'see its log'}",
        )
    missing = [r for r in range(expected_ranks) if r not in reported]
    if app_succeeded and not missing:
        return Decision("succeed", "Completed", "training finished")
    cause = "WorkerKilled" if missing else "Preempted"
    detail = (
        f"rank(s) {missing} died without reporting (killed by a signal?)"
        if missing
        else "workers stopped for a retryable reason"
    )
    allowed = restart.max_restarts
    if restarts_so_far >= allowed:
        return Decision("fail", "RestartBudgetExhausted", f"{detail}; restart budget of {allowed} is spent")
    return Decision("restart", cause, detail, backoff(restart, restarts_so_far))


def read_exits(run: RunDir, attempt: int) -> list[WorkerExit]:
    out = []
    folder = run.exits(attempt)
    for p in sorted(folder.glob("rank-*.json")) if folder.exists() else []:
        try:
            data = json.loads(p.read_text())
            out.append(WorkerExit(int(data["rank"]), data.get("exit_code"), data.get("reason", "")))
        except (ValueError, KeyError, OSError):
            continue
    return out


class Supervisor:
    """The I/O edge around :func:`decide`."""

    POLL_SECONDS = 0.5

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.job = load_job(run.job_file)
        self.cancel_requested = False

    def _on_term(self, signum: int, _frame: object) -> None:
        log.info("signal %d: stopping the workers (they write a final checkpoint)", signum)
        self.cancel_requested = True
        self.run.update_state(cancel_requested=True)
        signal_pids(self.run.worker_pids(), signal.SIGTERM)

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)

    def run_forever(self) -> int:
        from torchx.runner import get_runner
        from torchx.specs import AppState

        self._install_signal_handlers()
        state = self.run.read_state()
        restarts = state.restarts if state else 0
        attempt = state.attempt if state else 0
        expected = self.job.spec.resources.procs_per_node
        budget = self.job.spec.checkpoint.preemption_budget_seconds
        with get_runner() as runner:
            while True:
                attempt += 1
                self.run.update_state(
                    phase="Running",
                    attempt=attempt,
                    start_time=(state.start_time if state and state.start_time else time.time()),
                )
                app = build_appdef(
                    self.job, target="local", run_dir=self.run.path, restart_count=restarts, attempt=attempt
                )
                log_dir = self.run.logs / f"attempt-{attempt}"
                log_dir.mkdir(parents=True, exist_ok=True)
                handle = runner.run(app, scheduler="local_cwd", cfg={"log_dir": str(log_dir)})
                # NOTE: TorchX's LocalScheduler, created lazily by the first run(), installs
                # SIGTERM/SIGINT handlers that raise SignalException and would kill this
                # supervisor (the run ends "Failed" instead of "Cancelled"); ours go back on top.
                self._install_signal_handlers()
                self.run.update_state(app_handle=handle)
                log.info("attempt %d: %s", attempt, handle)
                term_sent_at: float | None = None
                while True:
                    status = runner.status(handle)
                    if status is None or status.is_terminal():
                        break
                    if self.cancel_requested and term_sent_at is None:
                        term_sent_at = time.monotonic()
                    if term_sent_at and time.monotonic() - term_sent_at > budget + 15:
                        log.warning("workers did not stop within the preemption budget; killing them")
                        runner.cancel(handle)
                    time.sleep(self.POLL_SECONDS)
                succeeded = status is not None and status.state == AppState.SUCCEEDED
                decision = decide(
                    app_succeeded=succeeded,
                    exits=read_exits(self.run, attempt),
                    expected_ranks=expected,
                    cancel_requested=self.cancel_requested,
                    restarts_so_far=restarts,
                    restart=self.job.spec.restart,
                )
                log.info("attempt %d ended: %s (%s: %s)", attempt, decision.action, decision.reason, decision.message)
                if decision.action == "restart":
                    restarts += 1
                    st = self.run.update_state(
                        phase="Restarting", reason=decision.reason, message=decision.message, restarts=restarts
                    )
                    self.run.update_state(restart_reasons=[*st.restart_reasons, decision.reason])
                    deadline = time.monotonic() + decision.backoff_seconds
                    while time.monotonic() < deadline and not self.cancel_requested:
                        time.sleep(0.1)
                    if self.cancel_requested:
                        decision = Decision("cancelled", "Cancelled", "cancelled by the user")
                    else:
                        continue
                phase = {"succeed": "Succeeded", "fail": "Failed", "cancelled": "Cancelled"}[decision.action]
                self.run.update_state(
                    phase=phase, reason=decision.reason, message=decision.message, completion_time=time.time()
                )
                return 0 if phase == "Succeeded" else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run = RunDir(Path(argv[0]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return Supervisor(run).run_forever()
    except Exception as exc:  # never leave a run "Running" forever
        log.exception("supervisor failed")
        run.update_state(phase="Failed", reason="SupervisorError", message=str(exc), completion_time=time.time())
        return 1


if __name__ == "__main__":
    sys.exit(main())
