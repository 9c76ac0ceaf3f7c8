"""The object store goes away during a save (real S3 API: moto_server behind a TCP proxy
that can drop every connection): training continues, the failed save is reported in
the log, the ``seer_checkpoint_save_failures_total`` metric and a ``checkpoint_failed``
event, the next save succeeds, and the checkpoint committed before is untouched.

``train()`` runs in this process (one rank, fp32: no process group needed) so the test
can open and close the store between two steps by wrapping the loader the loop builds
(``seer.trainer.components.build_loader``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration_support import join_checkpoint_saves, tiny_job
from object_store import FaultProxy

import seer.trainer.components as components
import seer.trainer.loop as loop
from seer.platform.loading import validate_document
from seer.trainer.checkpoint import MANIFEST_NAME, METADATA_NAME, step_dir_name
from seer.trainer.metrics import TrainerMetrics
from seer.trainer.runtime import Runtime
from seer.trainer.storage import storage_options_from_env


class OutageDuringSave:
    """Loader wrapper that scripts the outage around step ``down_at`` (1-based).

    Before that step the store goes down (once every earlier save finished), so the
    async save after it fails. Before the next step the wrapper waits until that save
    gave up (all its retries), then the store comes back. The wait only makes the
    outage window deterministic; the trainer itself never waits for a failing save.
    """

    def __init__(self, inner: Any, proxy: FaultProxy, down_at: int, on_up: Any) -> None:
        self.inner, self.proxy, self.down_at, self.on_up = inner, proxy, down_at, on_up

    def __iter__(self) -> Iterator[Any]:
        for step, batch in enumerate(self.inner, start=1):
            if step == self.down_at:
                join_checkpoint_saves()
                self.proxy.down()
            elif step == self.down_at + 1:
                join_checkpoint_saves()  # the failing save exhausted its retries
                self.proxy.up()
                self.on_up()
            yield batch


def _objects(fs: Any, url: str) -> dict[str, tuple[int, str]]:
    """path -> (size, ETag) of every object under ``url``."""
    return {p: (info["size"], info.get("ETag", "")) for p, info in fs.find(url, detail=True).items()}


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
def test_store_outage_fails_one_save_training_goes_on_and_the_next_save_commits(
    s3_proxy: tuple[FaultProxy, str],
    small_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import fsspec

    proxy, bucket = s3_proxy
    url = f"{bucket}/outage"
    # 1 rank, 20 steps: async saves after steps 4, 8 (store down), 12, 16 and a final one at 20.
    job = validate_document(
        tiny_job(
            "outage",
            small_data,
            optim={"epochs": 1},
            checkpoint={"url": url, "intervalSteps": 4, "keepLast": 10, "asyncSave": True},
        )
    )
    fs, _ = fsspec.core.url_to_fs(url, **storage_options_from_env(url))
    before: dict[str, Any] = {}

    def snapshot_committed() -> None:
        before.update(_objects(fs, f"{url}/{step_dir_name(4)}"))

    real_build_loader = components.build_loader
    monkeypatch.setattr(
        components,
        "build_loader",
        lambda *a, **kw: OutageDuringSave(real_build_loader(*a, **kw), proxy, down_at=8, on_up=snapshot_committed),
    )
    metrics = TrainerMetrics.create("outage", 0)
    runtime = Runtime(rank=0, local_rank=0, world_size=1, run_dir=tmp_path, restart_count=0, attempt=1)

    with caplog.at_level(logging.ERROR, logger="seer.trainer"):
        result = loop.train(job, runtime, metrics=metrics)

    assert result.step == 20 and not result.preempted and sorted(result.losses) == list(range(1, 21))
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["type"] == "checkpoint_failed"] == [8]
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [4, 12, 16, 20]
    failures = metrics.registry.get_sample_value(
        "seer_checkpoint_save_failures_total", {"seer_job": "outage", "rank": "0"}
    )
    assert failures == 1
    assert any("checkpoint step 8" in r.getMessage() and "fail" in r.getMessage().lower() for r in caplog.records)

    fs.invalidate_cache()
    complete = sorted(
        int(p.rstrip("/").rsplit("-", 1)[1])
        for p in fs.ls(url)
        if fs.exists(f"{p}/{METADATA_NAME}") and fs.exists(f"{p}/{MANIFEST_NAME}")
    )
    assert complete == [4, 12, 16, 20]
    # The failed save was never committed, and its leftovers went with the next commit.
    assert not fs.exists(f"{url}/{step_dir_name(8)}/{MANIFEST_NAME}")
    assert not fs.exists(f"{url}/{step_dir_name(8)}")
    # The checkpoint committed before the outage is byte-for-byte what it was.
    assert before and _objects(fs, f"{url}/{step_dir_name(4)}") == before
    assert json.loads(fs.cat(f"{url}/{step_dir_name(4)}/{MANIFEST_NAME}"))["step"] == 4
