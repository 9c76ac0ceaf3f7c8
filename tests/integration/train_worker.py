"""One rank of a test run of ``seer.trainer.loop.train`` (alone, or under torchrun).

    python train_worker.py --job JOB.yaml --out DIR [--stop-after-step K]

Writes ``DIR/rank-<r>.json``: the ``TrainResult`` plus, for every step this rank
trained, the global sample indices of its batch and the batch's epoch. The indices
are recorded by wrapping the loader the loop builds (``seer.trainer.components.build_loader``)
— a test-only observation point, so the trainer needs no debug switch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


class RecordingLoader:
    """Wraps the trainer's loader; records (step, indices, epoch) of every batch handed out."""

    def __init__(self, inner: Any, first_step: int, record: dict[str, dict[int, Any]]) -> None:
        self.inner, self.next_step, self.record = inner, first_step, record

    def __iter__(self) -> Iterator[Any]:
        for batch in self.inner:
            self.next_step += 1
            self.record["indices"][self.next_step] = batch.indices.tolist()
            self.record["epochs"][self.next_step] = int(batch.epoch)
            yield batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--stop-after-step", type=int, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    import seer.trainer.components as components
    import seer.trainer.loop as loop
    from seer.platform.loading import load_job
    from seer.trainer.checkpoint import Checkpointer
    from seer.trainer.entrypoint import _init_process_group
    from seer.trainer.runtime import Runtime

    job = load_job(args.job)
    _init_process_group("cpu", job.spec.training.collective_timeout_seconds)
    runtime = Runtime.from_env()
    record: dict[str, dict[int, Any]] = {"indices": {}, "epochs": {}}
    # The loop loads the checkpoint, then builds the loader: its batches are the steps
    # after the resumed one, which the wrapped load_latest notes down.
    resumed_step = {"value": 0}
    real_build_loader = components.build_loader
    real_load_latest = Checkpointer.load_latest

    def build_loader(*a: Any, **kw: Any) -> RecordingLoader:
        return RecordingLoader(real_build_loader(*a, **kw), first_step=resumed_step["value"], record=record)

    def load_latest(self: Any, state: Any) -> Any:
        info = real_load_latest(self, state)
        resumed_step["value"] = state.progress.step
        return info

    components.build_loader = build_loader  # type: ignore[assignment]
    Checkpointer.load_latest = load_latest  # type: ignore[method-assign]
    result = loop.train(job, runtime, stop_after_step=args.stop_after_step)
    trained = set(result.losses)
    out = {
        "rank": runtime.rank,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "step": result.step,
        "preempted": result.preempted,
        "resumed_from": result.resumed_from,
        "losses": result.losses,
        # Batches fetched but not trained on (a stop between fetch and step) are dropped.
        "indices": {k: v for k, v in record["indices"].items() if k in trained},
        "epochs": {k: v for k, v in record["epochs"].items() if k in trained},
    }
    path = Path(args.out) / f"rank-{runtime.rank}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, path)
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
