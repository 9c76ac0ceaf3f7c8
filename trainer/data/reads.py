"""A batch's reads issued together, retried with backoff, failures returned (not raised).

Object stores answer one request in 20–50 ms whatever its size, so a worker that
reads a batch's images one after another is latency-bound (~20–50 images/s).
``read_ranges`` hands all of a batch's byte ranges to fsspec at once
(``cat_ranges``; async filesystems such as s3fs and gcsfs run them concurrently),
so a batch costs about one round trip plus transfer time.

Failures are values: each read that still fails after ``attempts`` tries comes
back as its exception, and the caller counts it and substitutes another image
(as it does for an undecodable one).  A missing object is not retried.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import fsspec

__all__ = ["WHOLE", "read_ranges"]

#: ``start`` value meaning "the whole object" (image files).
WHOLE = -1


def _read_once(
    fs: fsspec.AbstractFileSystem, paths: Sequence[str], starts: Sequence[int], ends: Sequence[int]
) -> list[bytes | BaseException]:
    # start/end None: the whole object (fsspec's cat_file convention).
    lo = [None if s == WHOLE else int(s) for s in starts]
    hi = [None if s == WHOLE else int(e) for s, e in zip(starts, ends, strict=True)]
    try:
        return list(fs.cat_ranges(list(paths), lo, hi, on_error="return"))
    except Exception as err:  # a filesystem that raises for the whole call: every read failed
        return [err] * len(paths)


def read_ranges(
    fs: fsspec.AbstractFileSystem,
    paths: Sequence[str],
    starts: Sequence[int],
    ends: Sequence[int],
    *,
    attempts: int = 3,
    backoff_s: float = 0.05,
) -> list[bytes | BaseException]:
    """Bytes ``[start, end)`` of each path (``start == WHOLE``: the whole object), in order.

    All reads of one call are issued together; those that fail with anything but
    ``FileNotFoundError`` are retried, up to ``attempts`` tries in all, waiting
    ``backoff_s``, then 4x that, ... between tries.  What still fails is
    returned as the exception.
    """
    results = _read_once(fs, paths, starts, ends)
    for attempt in range(1, attempts):
        retry = [
            k for k, r in enumerate(results) if isinstance(r, BaseException) and not isinstance(r, FileNotFoundError)
        ]
        if not retry:
            break
        time.sleep(backoff_s * 4 ** (attempt - 1))
        again = _read_once(fs, [paths[k] for k in retry], [starts[k] for k in retry], [ends[k] for k in retry])
        for k, value in zip(retry, again, strict=True):
            results[k] = value
    return results
