"""A stable hash of the job spec, recorded in every checkpoint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["spec_hash"]


def spec_hash(spec: Any, *, exclude: Iterable[str] = ()) -> str:
    """``sha256:<hex>`` of the spec's canonical JSON (sorted keys, no whitespace).

    ``spec`` is a mapping or a pydantic model (anything with ``model_dump``).
    ``exclude`` drops top-level sections that may legitimately change across a
    resume (e.g. ``("resources", "metadata")`` so an elastic resize or a new
    node selector does not look like a different experiment). The hash only
    records identity; deciding what a mismatch means is the loop's call.
    """
    data = spec.model_dump(mode="json") if hasattr(spec, "model_dump") else spec
    if not isinstance(data, Mapping):
        raise TypeError(f"spec must be a mapping or a pydantic model, got {type(spec).__name__}")
    dropped = set(exclude)
    canonical = json.dumps(
        {k: v for k, v in data.items() if k not in dropped}, sort_keys=True, separators=(",", ":"), default=str
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
