"""Checkpoint I/O against a local S3 API (moto_server over loopback). Prints ratios; passes/fails nothing.

    OMP_NUM_THREADS=1 .venv/bin/python bench/checkpoint_io.py [--mb 64] [--repeats 3]

1. Save/load throughput of the checkpointer (DCP + FsspecWriter/Reader, manifest,
   retention) as a ratio to writing/reading the same number of bytes with plain
   s3fs in the same run (aim >= 0.8), for a few writer thread counts.
2. Time the training loop is blocked by an async save as a share of a sync save
   of the same state (aim <= 10 %).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from seer.trainer.checkpoint import CheckpointConfig, Checkpointer, TrainingProgress, TrainingState
from seer.trainer.storage import storage_options_from_env


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    moto = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start")


def make_state(megabytes: int) -> TrainingState:
    """A stack of linear layers of about ``megabytes`` MB (fp32), like a RegNet trunk's bulk."""
    width = 1024
    layers = max(1, round(megabytes * 2**20 / (4 * width * width)))
    model = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])
    return TrainingState(model, None, progress=TrainingProgress(step=1), save_rng=False)


def best(fn: Callable[[], float], repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="state size in MB")
    parser.add_argument("--repeats", type=int, default=3, help="best of N")
    args = parser.parse_args()
    torch.set_num_threads(1)
    process, endpoint = start_moto()
    try:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="eu-west-1"
        )
        bucket = "s3://bench"
        options = storage_options_from_env(bucket)
        import s3fs

        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench")
        state = make_state(args.mb)
        nbytes = sum(t.numel() * t.element_size() for t in state.model.state_dict().values())
        blob = os.urandom(nbytes)
        mb = nbytes / 2**20
        print(f"state: {mb:.1f} MB in {len(state.model)} layers; moto_server at {endpoint}; best of {args.repeats}\n")

        plain_write = best(lambda: timed(lambda: fs.pipe_file("bench/plain/blob", blob)), args.repeats)
        plain_read = best(lambda: timed(lambda: fs.cat_file("bench/plain/blob")), args.repeats)
        print(f"plain s3fs          write {mb / plain_write:7.1f} MB/s   read {mb / plain_read:7.1f} MB/s")

        for threads in (1, 2, 4):
            url = f"{bucket}/threads-{threads}"
            checkpointer = Checkpointer(
                CheckpointConfig(
                    url=url, keep_last=1, every_steps=1, every_seconds=None, async_save=False, thread_count=threads
                ),
                options,
            )
            step = iter(range(1, 10**6))

            def save() -> float:
                state.progress.step = next(step)  # noqa: B023 - called within the iteration
                result = checkpointer.save(state, blocking=True)  # noqa: B023 - called within the iteration
                assert result is not None and result.ok, result
                return result.duration_s

            save_s = best(save, args.repeats)
            info = checkpointer.latest()
            assert info is not None
            load_s = best(lambda: timed(lambda: checkpointer.load(state, info)), args.repeats)  # noqa: B023 - called within the iteration
            print(
                f"checkpointer t={threads}    write {mb / save_s:7.1f} MB/s ({plain_write / save_s:4.2f}x plain)"
                f"   read {mb / load_s:7.1f} MB/s ({plain_read / load_s:4.2f}x plain)"
            )

        url = f"{bucket}/async"
        checkpointer = Checkpointer(
            CheckpointConfig(url=url, keep_last=1, every_steps=1, every_seconds=None, async_save=True), options
        )
        sync_s, blocked = [], []
        for step in range(1, args.repeats + 1):
            state.progress.step = 2 * step
            result = checkpointer.save(state, blocking=True)
            assert result is not None and result.ok
            sync_s.append(result.blocked_s)
            state.progress.step = 2 * step + 1
            entered = time.perf_counter()
            checkpointer.save(state)
            blocked.append(time.perf_counter() - entered)
            assert (done := checkpointer.wait()) is not None and done.ok, done
        sync_med, blocked_med = statistics.median(sync_s), statistics.median(blocked)
        print(
            f"\nasync save blocks the loop {blocked_med * 1000:.0f} ms vs {sync_med * 1000:.0f} ms for a sync save"
            f" = {100 * blocked_med / sync_med:.1f} % (aim <= 10 %)"
        )
    finally:
        process.kill()
        process.wait()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
