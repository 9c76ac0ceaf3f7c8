"""Which log lines ``seerctl logs --since`` keeps (pure; no I/O).

Local log lines start with the time the worker or supervisor logged them (Python logging's
``asctime``, local time: ``2026-12-04 21:45:03,123 ...``). A line without one (a traceback,
a print) belongs to the last timed line before it. On Kubernetes the API server filters
(``sinceSeconds``), so this module is for local jobs only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ASCTIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3})")


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``10m``, ``2h``, ``1d`` -> seconds (like kubectl's ``--since``)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration: use e.g. 30s, 10m, 2h or 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def line_time(line: str) -> datetime | None:
    """The logging time at the start of ``line``, or None."""
    match = _ASCTIME.match(line)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") + timedelta(milliseconds=int(match.group(2)))


def lines_since(lines: Iterable[str], cutoff: datetime) -> Iterator[str]:
    """The lines logged at or after ``cutoff`` (naive local time, as ``asctime`` writes it);
    untimed lines go with the timed line before them, and are dropped before the first one."""
    keep = False
    for line in lines:
        when = line_time(line)
        if when is not None:
            keep = when >= cutoff
        if keep:
            yield line
