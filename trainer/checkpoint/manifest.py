"""The human-readable manifest beside each checkpoint (the commit marker)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

__all__ = ["FORMAT_VERSION", "Manifest"]

FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What ``manifest.json`` says about one committed checkpoint.

    Written by rank 0 after DCP's ``.metadata`` (i.e. after every rank's shard),
    so its presence means the checkpoint is complete. ``world_size`` is the
    number of ranks that wrote it: per-rank state (RNG, SwAV queue) is restored
    only when the loading job has the same world size.
    """

    step: int
    epoch: int
    position: int  # global sample position within the epoch (survives a change of world size)
    world_size: int
    spec_hash: str
    loss: float | None
    unix_time: float  # when the state was captured (seconds since the epoch, UTC)
    time: str  # the same instant, ISO 8601 UTC, for people
    duration_s: float  # capture to commit, including retries
    torch_version: str
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        if data["loss"] is not None and not math.isfinite(data["loss"]):
            data["loss"] = str(data["loss"])  # JSON has no NaN/inf; keep it readable
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse a manifest; unknown keys (from newer writers) are ignored, missing ones raise ``ValueError``."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"manifest must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        try:
            kwargs = {k: v for k, v in data.items() if k in known}
            if isinstance(kwargs.get("loss"), str):
                kwargs["loss"] = float(kwargs["loss"])
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"manifest is missing fields: {exc}") from exc
