"""What every ``seerctl`` verb shares and ``main`` needs: the user-facing error, the
exit statuses and the YAML/JSON dump. No rich, no backends: both ``seer.platform.cli``
and ``seer.platform.cli.commands`` import it, neither imports the other at module level.
"""

from __future__ import annotations

import json
from typing import Any

from seer.platform.contract import EXIT_BAD_SPEC, EXIT_FAILED

__all__ = ["EXIT_BAD_SPEC", "EXIT_FAILED", "UserError", "dump"]


class UserError(Exception):
    """A failure explained to the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
