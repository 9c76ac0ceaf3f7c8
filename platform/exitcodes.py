"""How a worker process ends: re-exported from ``seer.platform.contract``, where the codes
are defined (once) with the rest of the worker contract. Kept so existing imports work."""

from seer.platform.contract import (
    EXIT_BAD_SPEC,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RETRYABLE,
    RETRYABLE_EXIT_CODES,
    is_retryable_exit,
)

__all__ = ["EXIT_BAD_SPEC", "EXIT_FAILED", "EXIT_OK", "EXIT_RETRYABLE", "RETRYABLE_EXIT_CODES", "is_retryable_exit"]
