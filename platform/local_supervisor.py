"""Supervises one local run: launches it through TorchX ``local_cwd`` and restarts it.

Runs as its own detached process (``python -m seer.platform.local_supervisor RUN_DIR``)
so a job outlives the ``seerctl`` that submitted it. It is the only writer of the
run's ``state.json``.

Why our own loop and not torchrun's ``--max-restarts``: torchrun restarts on *any*
failure. We restart only for retryable causes (preemption, a worker killed by a
signal, a lost peer) and fail fast on application errors, with the same policy the
Kubernetes operator applies (``seer.platform.restart_policy``: ``restart.retryOn``,
the budget, backoff with jitter, the reason names) — so a job behaves alike on a
laptop and on a cluster.

One supervisor per run directory, and no worker outlives it: it holds the run's owner
lock (``seer.platform.run_lock``) for its lifetime, inherited from ``seerctl submit``
(started by hand on an owned directory it refuses to run), and starts torchrun through
``seer.platform.lifeline`` so that its death, however it comes, SIGTERMs the workers.

Every attempt is recorded in ``state.json`` under ``history``: one entry
``{"attempt", "startedAt", "endedAt", "action", "reason", "backoffSeconds"}`` per
attempt (times in epoch seconds; ``action`` is restart, succeed, fail or cancelled).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seer.platform import lifeline
from seer.platform.appdef import build_appdef
from seer.platform.contract import EXIT_OK
from seer.platform.loading import load_job
from seer.platform.restart_policy import (
    APPLICATION_ERROR,
    PREEMPTED,
    SIGNALED,
    Failure,
    Verdict,
    exit_failure,
    jitter_rng,
    verdict,
)
from seer.platform.run_lock import try_lock_owner
from seer.platform.runs import RunDir, signal_pids
from seer.platform.spec import RestartReason, RestartSpec

log = logging.getLogger("seer.supervisor")


@dataclass(frozen=True)
class WorkerExit:
    rank: int
    exit_code: int | None  # None: no report, the process died by a signal
    reason: str = ""


#: What the supervisor does after an attempt: the restart policy's verdict type.
Decision = Verdict

CANCELLED = Decision("cancelled", "Cancelled", "cancelled by the user")


def attempt_failure(exits: list[WorkerExit], expected_ranks: int) -> Failure | None:
    """The one failure that speaks for an attempt, or None when every rank finished.

    An application error on any rank wins over retryable causes on others (the others
    typically died *because* of it); then a death by signal (the lost peer's survivors
    exit 75 because of it); then the rest, lowest rank first. Missing reports mean
    death by signal.
    """
    reported = {e.rank for e in exits}
    missing = [r for r in range(expected_ranks) if r not in reported]
    failures: list[Failure] = []
    for e in sorted(exits, key=lambda e: e.rank):
        failure = exit_failure(e.exit_code, f"rank {e.rank}")
        if failure is not None and failure.cause is None:
            failure = Failure(
                APPLICATION_ERROR, None, f"rank {e.rank} exited with code {e.exit_code}: {e.reason or 'see its log'}"
            )
        if failure is not None:
            failures.append(failure)
    if missing:
        failures.append(exit_failure(None, f"rank(s) {missing}"))  # type: ignore[arg-type]
    for wanted in (APPLICATION_ERROR, SIGNALED):
        chosen = [f for f in failures if f.reason == wanted]
        if chosen:
            return chosen[0]
    return failures[0] if failures else None


def decide(
    *,
    app_succeeded: bool,
    exits: list[WorkerExit],
    expected_ranks: int,
    cancel_requested: bool,
    restarts_so_far: int,
    restart: RestartSpec,
    jitter_key: str = "",
) -> Decision:
    """What to do after an attempt ended. Pure; table-tested (the backoff's jitter is
    drawn from ``restart_policy.jitter_rng(jitter_key, restarts_so_far)``)."""
    if cancel_requested:
        return CANCELLED
    if app_succeeded and all(e.exit_code == EXIT_OK for e in exits) and len(exits) >= expected_ranks:
        return Decision("succeed", "Completed", "training finished")
    failure = attempt_failure(exits, expected_ranks)
    every_rank_reported = {e.rank for e in exits} >= set(range(expected_ranks))
    if app_succeeded and every_rank_reported and (failure is None or failure.retryable):
        return Decision("succeed", "Completed", "training finished")
    if failure is None:  # torchrun failed although every rank reported success: try again
        failure = Failure(PREEMPTED, RestartReason.preemption, "workers stopped for a retryable reason")
    return verdict(failure, restarts_so_far, restart, jitter_rng(jitter_key, restarts_so_far))


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

    def _record(self, entry: dict[str, Any]) -> None:
        """Append one attempt to ``state.json``'s ``history`` (the module docstring's shape)."""
        state = self.run.read_state()
        self.run.update_state(history=[*(state.history if state else []), entry])

    def _cancel_last_record(self) -> None:
        """A cancel during a backoff: the planned restart of the last attempt never happens."""
        state = self.run.read_state()
        if state and state.history:
            last = {**state.history[-1], "action": CANCELLED.action, "reason": CANCELLED.reason}
            self.run.update_state(history=[*state.history[:-1], last])

    def _run_attempt(self, runner: Any, attempt: int, restarts: int) -> bool:
        """Start attempt ``attempt`` through TorchX and wait for it to end; True when TorchX
        says it succeeded. A cancel gives the workers the preemption budget (they write a
        final checkpoint), then kills them."""
        from torchx.specs import AppState

        app = build_appdef(self.job, target="local", run_dir=self.run.path, restart_count=restarts, attempt=attempt)
        role = app.roles[0]  # torchrun (`python -m torch.distributed.run ...`) dies with this supervisor
        role.args = lifeline.wrap(role.args, os.getpid())
        log_dir = self.run.logs / f"attempt-{attempt}"
        log_dir.mkdir(parents=True, exist_ok=True)
        handle = runner.run(app, scheduler="local_cwd", cfg={"log_dir": str(log_dir)})
        # NOTE: TorchX's LocalScheduler, created lazily by the first run(), installs
        # SIGTERM/SIGINT handlers that raise SignalException and would kill this
        # supervisor (the run ends "Failed" instead of "Cancelled"); ours go back on top.
        self._install_signal_handlers()
        self.run.update_state(app_handle=handle)
        log.info("attempt %d: %s", attempt, handle)
        budget = self.job.spec.checkpoint.preemption_budget_seconds
        term_sent_at: float | None = None
        while True:
            status = runner.status(handle)
            if status is None or status.is_terminal():
                return status is not None and status.state == AppState.SUCCEEDED
            if self.cancel_requested and term_sent_at is None:
                term_sent_at = time.monotonic()
            if term_sent_at and time.monotonic() - term_sent_at > budget + 15:
                log.warning("workers did not stop within the preemption budget; killing them")
                runner.cancel(handle)
            time.sleep(self.POLL_SECONDS)

    def run_forever(self) -> int:
        """Attempt, decide, record; until the job succeeds, fails or is cancelled. Returns
        the supervisor's exit status (0 only when the job succeeded)."""
        from torchx.runner import get_runner

        self._install_signal_handlers()
        state = self.run.read_state()
        restarts = state.restarts if state else 0
        attempt = state.attempt if state else 0
        with get_runner() as runner:
            while True:
                attempt += 1
                started_at = time.time()
                self.run.update_state(
                    phase="Running",
                    attempt=attempt,
                    start_time=(state.start_time if state and state.start_time else time.time()),
                )
                succeeded = self._run_attempt(runner, attempt, restarts)
                ended_at = time.time()
                decision = decide(
                    app_succeeded=succeeded,
                    exits=read_exits(self.run, attempt),
                    expected_ranks=self.job.spec.resources.procs_per_node,
                    cancel_requested=self.cancel_requested,
                    restarts_so_far=restarts,
                    restart=self.job.spec.restart,
                    jitter_key=self.job.name,
                )
                self._record(
                    {
                        "attempt": attempt,
                        "startedAt": started_at,
                        "endedAt": ended_at,
                        "action": decision.action,
                        "reason": decision.reason,
                        "backoffSeconds": decision.backoff_seconds,
                    }
                )
                log.info("attempt %d ended: %s (%s: %s)", attempt, decision.action, decision.reason, decision.message)
                if decision.action == "restart":
                    restarts += 1
                    previous = self.run.update_state(
                        phase="Restarting", reason=decision.reason, message=decision.message, restarts=restarts
                    )
                    self.run.update_state(restart_reasons=[*previous.restart_reasons, decision.reason])
                    deadline = time.monotonic() + decision.backoff_seconds
                    while time.monotonic() < deadline and not self.cancel_requested:
                        time.sleep(0.1)
                    if not self.cancel_requested:
                        continue
                    decision = CANCELLED
                    self._cancel_last_record()
                phase = {"succeed": "Succeeded", "fail": "Failed", "cancelled": "Cancelled"}[decision.action]
                self.run.update_state(
                    phase=phase, reason=decision.reason, message=decision.message, completion_time=time.time()
                )
                return 0 if phase == "Succeeded" else 1


def take_ownership(run: RunDir, lock_fd: int | None) -> bool:
    """Hold the run's owner lock for this process's lifetime (``seer.platform.run_lock``):
    the descriptor ``seerctl submit`` passed (already locked; locking again is a no-op), or
    a fresh one. False when another process owns the run: a second supervisor never runs."""
    if lock_fd is None:
        lock_fd = try_lock_owner(run.path)
        if lock_fd is None:
            return False
    else:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # our own lock: succeeds at once
    os.set_inheritable(lock_fd, False)  # torchrun and the workers never hold the owner lock
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seer.platform.local_supervisor")
    parser.add_argument("run_dir", type=Path, help="the run directory (seerctl submit writes it)")
    parser.add_argument("--lock-fd", type=int, default=None, help="the run's owner lock, inherited from seerctl")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    run = RunDir(args.run_dir)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        owned = take_ownership(run, args.lock_fd)
    except OSError as exc:
        log.error("cannot lock %s: %s", run.path, exc)
        return 1
    if not owned:
        log.error("%s is owned by another supervisor (its .lock is held); refusing to start a second one", run.path)
        return 1
    run.update_state(supervisor_pid=os.getpid())
    try:
        return Supervisor(run).run_forever()
    except Exception as exc:  # never leave a run "Running" forever
        log.exception("supervisor failed")
        run.update_state(phase="Failed", reason="SupervisorError", message=str(exc), completion_time=time.time())
        return 1


if __name__ == "__main__":
    sys.exit(main())
