"""When a worker stops: retry or not, how long to wait, and what to call it (pure).

One policy for both places that restart workers: the local supervisor
(``seer.platform.local_supervisor``) and the operator (``seer.operators.planning``).
They differ only in the evidence they have (an exit record or an exit status
locally; a pod's conditions, reason and container state on Kubernetes) and turn it
into a :class:`Failure`; everything after that is decided here, so a job behaves
alike on a laptop and on a cluster.

Rules, in order (:func:`verdict`):
1. an application error (a :class:`Failure` without a cause) fails the job;
2. a cause that ``restart.retryOn`` leaves out fails the job, reason ``<Reason>NotRetried``;
3. with ``restart.maxRestarts`` restarts done, the job fails: ``RestartBudgetSpent``;
4. otherwise restart after :func:`backoff_seconds`.

Backoff: ``d = backoffSeconds * 2**n`` capped at ``maxBackoffSeconds`` (n = restarts
already done), plus up to :data:`JITTER` of ``d`` drawn from a seeded generator, and
never more than ``maxBackoffSeconds``: the delay lies in
``[d, min(maxBackoffSeconds, d * (1 + JITTER))]``. Jitter only lengthens a wait (a
restart never comes earlier than the spec says) and spreads out jobs that failed
together (a lost node takes many jobs with it). Seeding it with (job, n) makes the
delay a pure function, which the level-triggered operator needs (every reconcile must
compute the same wait) and tests can check (:func:`backoff_bounds`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from seer.platform.contract import EXIT_OK, EXIT_RETRYABLE
from seer.platform.spec import RestartReason, RestartSpec

#: Reasons (one CamelCase word: Kubernetes Events and conditions, ``state.json``, seerctl).
PREEMPTED = "Preempted"  #: exit 75 after a final checkpoint, or preempted by the scheduler
EVICTED = "Evicted"
NODE_LOST = "NodeLost"
OOM_KILLED = "OOMKilled"
SIGNALED = "Signaled"  #: killed by a signal (SIGKILL, SIGTERM...) without a final checkpoint
APPLICATION_ERROR = "ApplicationError"
BUDGET_SPENT = "RestartBudgetSpent"
NOT_RETRIED_SUFFIX = "NotRetried"

#: Fraction of the backoff that jitter may add (see the module docstring).
JITTER = 0.2
#: Exponent cap: 2**40 * any positive base is beyond every maxBackoffSeconds (and no overflow).
_MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class Failure:
    """A stopped worker: the ``restart.retryOn`` cause (None: an application error, never
    retried), a CamelCase reason and a sentence for people."""

    reason: str
    cause: RestartReason | None
    message: str

    @property
    def retryable(self) -> bool:
        return self.cause is not None


def exit_failure(code: int | None, who: str) -> Failure | None:
    """What an exit status means; None for success. ``code`` None: the process reported
    nothing (killed by a signal before it could). Negative: killed by signal -code (as
    Python's subprocess reports it); 128+N: killed by signal N (as a shell or the kubelet
    reports it)."""
    if code == EXIT_OK:
        return None
    if code is None:
        return Failure(SIGNALED, RestartReason.signal, f"{who} died without reporting (killed by a signal?)")
    if code == EXIT_RETRYABLE:
        return Failure(PREEMPTED, RestartReason.preemption, f"{who} stopped after a final checkpoint (exit {code})")
    if code < 0 or code >= 128:
        signum = -code if code < 0 else code - 128
        return Failure(SIGNALED, RestartReason.signal, f"{who} was killed by signal {signum} (exit {code})")
    return Failure(APPLICATION_ERROR, None, f"{who} exited with code {code} (application error)")


#: The policy answers ``restart`` or ``fail``; ``succeed`` and ``cancelled`` are outcomes the
#: local supervisor reaches without it, in the same type (its ``Decision``).
Action = Literal["restart", "fail", "succeed", "cancelled"]


@dataclass(frozen=True)
class Verdict:
    """What happens after an attempt or a worker ended: ``backoff_seconds`` before a restart."""

    action: Action
    reason: str
    message: str
    backoff_seconds: float = 0.0


def _retried(cause: RestartReason, restart: RestartSpec) -> bool:
    return cause.value in {getattr(c, "value", c) for c in restart.retry_on}


def never_retried(failure: Failure, restart: RestartSpec) -> Verdict | None:
    """Rules 1 and 2: the failure verdict when no budget would make ``failure`` retried, else None."""
    if failure.cause is None:
        return Verdict("fail", failure.reason, failure.message)
    if not _retried(failure.cause, restart):
        return Verdict(
            "fail",
            failure.reason + NOT_RETRIED_SUFFIX,
            f"{failure.message}; restart.retryOn does not include {failure.cause.value}",
        )
    return None


def verdict(failure: Failure, restarts_done: int, restart: RestartSpec, rng: random.Random) -> Verdict:
    """Restart or fail after ``failure``, with ``restarts_done`` restarts behind the job."""
    refused = never_retried(failure, restart)
    if refused is not None:
        return refused
    if restarts_done >= restart.max_restarts:
        return Verdict(
            "fail",
            BUDGET_SPENT,
            f"restart budget spent ({restart.max_restarts} restarts); last failure: {failure.message}",
        )
    return Verdict("restart", failure.reason, failure.message, backoff_seconds(restart, restarts_done, rng))


def backoff_bounds(restart: RestartSpec, restarts_done: int) -> tuple[float, float]:
    """The interval the delay before restart number ``restarts_done + 1`` falls in."""
    base = min(restart.max_backoff_seconds, restart.backoff_seconds * 2 ** min(restarts_done, _MAX_DOUBLINGS))
    return base, min(restart.max_backoff_seconds, base * (1 + JITTER))


def backoff_seconds(restart: RestartSpec, restarts_done: int, rng: random.Random) -> float:
    """The delay before restart number ``restarts_done + 1`` (see the module docstring)."""
    low, high = backoff_bounds(restart, restarts_done)
    return low + (high - low) * rng.random()


def jitter_rng(job_key: str, restarts_done: int) -> random.Random:
    """The generator for one job's one backoff: the same (job, n) always draws the same
    jitter (string seeds hash with SHA-512, independent of PYTHONHASHSEED)."""
    return random.Random(f"{job_key}:{restarts_done}")
