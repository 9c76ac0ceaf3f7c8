"""Training progress for the status, scraped from the trainer's own metrics.

Why scraping: the trainer already exports ``seer_train_step``,
``seer_checkpoint_last_step`` and ``seer_checkpoint_last_success_timestamp_seconds``
for Prometheus; reading the same exposition needs no write access for workers to
the API server (no RBAC for pods to patch their job) and no second reporting path.
:func:`parse_progress` is pure; :func:`fetch_exposition` is the thin HTTP edge.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone

from prometheus_client.parser import text_string_to_metric_families

from seer.platform.kube.status import rfc3339


@dataclass(frozen=True)
class ScrapedProgress:
    """What the status learns from a worker's metrics (None: not reported yet)."""

    step: int | None = None
    last_checkpoint_step: int | None = None
    last_checkpoint_time: str | None = None


def parse_progress(exposition: str) -> ScrapedProgress:
    """Largest value of each series across ranks (all ranks agree on the step)."""
    best: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name in (
                "seer_train_step",
                "seer_checkpoint_last_step",
                "seer_checkpoint_last_success_timestamp_seconds",
            ):
                best[sample.name] = max(best.get(sample.name, float("-inf")), sample.value)
    stamp = best.get("seer_checkpoint_last_success_timestamp_seconds")
    return ScrapedProgress(
        step=int(best["seer_train_step"]) if "seer_train_step" in best else None,
        last_checkpoint_step=int(best["seer_checkpoint_last_step"])
        if best.get("seer_checkpoint_last_step", 0) > 0
        else None,
        last_checkpoint_time=rfc3339(datetime.fromtimestamp(stamp, tz=timezone.utc)) if stamp else None,
    )


def fetch_exposition(host: str, port: int, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as response:  # noqa: S310 (pod IP)
        return response.read().decode()
