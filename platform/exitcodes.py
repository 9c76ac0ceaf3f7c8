"""How a worker process ends: the contract between the trainer, the local supervisor
and the operator.

Retryable codes mean "restart me and I resume from my last checkpoint"; anything
else non-zero is an application error that fails the job. A process killed by a
signal (SIGKILL, OOM killer) never reports a code: supervisors treat that as
retryable too.
"""

EXIT_OK = 0
EXIT_FAILED = 1  #: application error: a bug, bad data everywhere, NaN loss... (fatal)
EXIT_BAD_SPEC = 2  #: the job file is invalid (fatal; seerctl uses 2 as well)
EXIT_RETRYABLE = 75  #: EX_TEMPFAIL: preempted (final checkpoint written) or lost a peer

RETRYABLE_EXIT_CODES = frozenset({EXIT_RETRYABLE})


def is_retryable_exit(code: int | None) -> bool:
    """True for our retryable code and for deaths by signal (negative, or 128+N from a shell)."""
    if code is None:
        return True
    return code in RETRYABLE_EXIT_CODES or code < 0 or code >= 128
