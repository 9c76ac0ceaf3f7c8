"""Data-pipeline benchmark: CPU cost per image, and the object-storage read pattern.

Part ``cpu`` (one process, one torch thread, so numbers are per core):

* quickstart: 32 px digits (PNG) -> 2 x 32 px + 4 x 16 px crops;
* photo: scikit-learn's two sample photos (JPEG, ~640 x 427) -> 2 x 224 + 6 x 96 px.

Part ``s3``: a real S3 API (moto_server) behind a counting TCP proxy that can add
first-byte latency, holding ``--shards`` WebDataset shards of small JPEGs.  Side
by side, without a prebuilt index (every process lists and scans the shards) and
with one (``python -m seer.trainer.data index``): start-up wall time, requests
and bytes read at start, then the steady state of one loader worker (read +
decode + multi-crop, in this process): GETs per sample, bytes read per byte of
image data, images/s.  Then the read pattern alone at +latency: one GET in
flight (before) versus a batch's reads issued together.

Usage: ``OMP_NUM_THREADS=1 python bench/data_pipeline.py [--only cpu|s3] [--shards 100]``.
Counts include HTTP headers in "bytes read" (a few hundred bytes per response).
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import re
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from seer.trainer.data.decode import decode_rgb
from seer.trainer.data.multicrop import multicrop
from seer.trainer.data.multicrop_config import MultiCropConfig


def _encoded_digits(size: int) -> list[bytes]:
    from sklearn.datasets import load_digits

    out = []
    for pixels in load_digits().images[:256]:
        img = Image.fromarray(np.rint(pixels * 255 / 16).astype(np.uint8), "L").resize(
            (size, size), Image.Resampling.BICUBIC
        )
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def _encoded_photos() -> list[bytes]:
    from sklearn.datasets import load_sample_images

    out = []
    for array in load_sample_images().images:
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def measure(name: str, encoded: list[bytes], cfg: MultiCropConfig, batch: int, seconds: float) -> None:
    images_done, decode_s, crop_s, step = 0, 0.0, 0.0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        picks = [encoded[(step * batch + k) % len(encoded)] for k in range(batch)]
        t0 = time.perf_counter()
        decoded = [decode_rgb(b) for b in picks]
        t1 = time.perf_counter()
        multicrop(decoded, np.arange(step * batch, (step + 1) * batch), cfg, seed=0, epoch=0)
        t2 = time.perf_counter()
        decode_s, crop_s = decode_s + t1 - t0, crop_s + t2 - t1
        images_done += batch
        step += 1
    total = decode_s + crop_s
    print(
        f"{name:<44} {images_done / total:8.1f} images/s/core   "
        f"({1e3 * total / images_done:6.2f} ms/image; decode {100 * decode_s / total:4.1f}%, "
        f"crops {100 * crop_s / total:4.1f}%)"
    )


class CountingProxy:
    """TCP forwarder that counts HTTP requests by kind and the bytes sent back, optionally delaying each request."""

    _REQUEST = re.compile(rb"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.[01]\r\n")

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self.reset()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.bytes_down = 0

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            threading.Thread(target=self._up, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()

    def _up(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                found = self._REQUEST.findall(data)
                if found:
                    with self._lock:
                        for method, target in found:
                            listing = method == b"GET" and (b"list-type=" in target or b"delimiter=" in target)
                            self.requests["LIST" if listing else method.decode()] += 1
                    if self.latency_s:
                        time.sleep(self.latency_s)  # first-byte latency of a remote store
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def _down(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                with self._lock:
                    self.bytes_down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def close(self) -> None:
        self._listener.close()


def _small_jpeg(rng: np.random.Generator) -> bytes:
    """A ~20 KB photo-like JPEG: smooth colour field plus noise, 192 x 144."""
    low = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(low).resize((192, 144), Image.Resampling.BICUBIC), dtype=np.int16)
    img = np.clip(img + rng.integers(-20, 21, size=img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _shard(rng: np.random.Generator, shard: int, per_shard: int) -> tuple[bytes, int]:
    import tarfile

    buf, image_bytes = io.BytesIO(), 0
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for k in range(per_shard):
            for ext, data in (("cls", str(k % 10).encode()), ("jpg", _small_jpeg(rng))):
                info = tarfile.TarInfo(f"{shard:06d}{k:04d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                image_bytes += len(data) if ext == "jpg" else 0
    return buf.getvalue(), image_bytes


def _steady(samples, proxy, cfg, batches, batch, position, reads_only=False, sequential=False):
    """Read (+ decode + crop) ``batches`` batches of rank 0 of 4 from ``position``; returns counts and rate.

    Image bytes come from an uncounted pass first, so the counted pass reads each sample once.
    """
    from seer.trainer.data.loader import load_batch
    from seer.trainer.data.sharding import EpochOrder, rank_batch

    order = EpochOrder(len(samples), 0, 0)
    plans = [rank_batch(order, position, 4, batch, 0, j) for j in range(batches)]
    image_bytes = sum(len(d) for plan in plans for d in samples.read_many(plan.indices))
    samples = pickle.loads(pickle.dumps(samples))  # a fresh worker: no cached offsets blocks
    proxy.reset()
    t0 = time.perf_counter()
    for plan in plans:
        if sequential:
            [samples.read(int(i)) for i in plan.indices]
        elif reads_only:
            samples.read_many(plan.indices)
        else:
            load_batch(samples, plan, cfg, seed=0, epoch=0)
    wall = time.perf_counter() - t0
    n = batches * batch
    return {
        "gets_per_sample": proxy.requests["GET"] / n,
        "amplification": proxy.bytes_down / max(1, image_bytes),
        "images_per_s": n / wall,
    }


def run_s3(shards: int, per_shard: int, batches: int, latency_ms: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    import fsspec
    from object_store import start_moto

    from seer.trainer.data import tar_index
    from seer.trainer.data.dataset_index import build_index, samples_from_spec

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    endpoint, moto = start_moto()
    proxy = CountingProxy(int(endpoint.rsplit(":", 1)[1]))
    opts = {
        "endpoint_url": proxy.endpoint,
        "key": "testing-key-id",
        "secret": "testing-secret-key",
        "config_kwargs": {"max_pool_connections": 64},
        "use_listings_cache": False,  # every scenario lists again, like a new process
    }
    try:
        fs = fsspec.filesystem("s3", **opts)
        fs.mkdir("bench")
        rng = np.random.default_rng(0)
        dataset_bytes = image_bytes = 0
        for s in range(shards):
            data, images = _shard(rng, s, per_shard)
            fs.pipe_file(f"bench/train/shard-{s:06d}.tar", data)
            dataset_bytes, image_bytes = dataset_bytes + len(data), image_bytes + images
        url = f"s3://bench/train/shard-{{000000..{shards - 1:06d}}}.tar"
        spec = SimpleNamespace(sources=[url], format="webdataset", index=None)
        n = shards * per_shard
        print(
            f"\nS3 (moto) with {shards} shards x {per_shard} JPEGs = {n} images, "
            f"{dataset_bytes / 1e6:.1f} MB ({image_bytes / n / 1e3:.1f} KB/image)"
        )

        def start(label):
            tar_index.clear_memory_cache()
            type(fs).clear_instance_cache()  # a new process: new client, nothing cached
            proxy.reset()
            t0 = time.perf_counter()
            samples = samples_from_spec(spec, opts)
            wall = time.perf_counter() - t0
            return samples, {
                "wall": wall,
                "requests": dict(proxy.requests),
                "bytes": proxy.bytes_down / dataset_bytes,
            }

        listed, cold = start("no index")
        proxy.reset()
        t0 = time.perf_counter()
        build_index(url, storage_options=opts, format="webdataset")
        built = {"wall": time.perf_counter() - t0, "requests": dict(proxy.requests), "bytes": proxy.bytes_down}
        indexed, warm = start("index")
        assert type(indexed).__name__ == "IndexedSamples" and len(indexed) == len(listed) == n

        cfg = MultiCropConfig(sizes=(64, 32), counts=(2, 4), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))
        position = (n // 2 // 128) * 128
        rows = []
        for label, lat in (("+0 ms", 0.0), (f"+{latency_ms:.0f} ms", latency_ms / 1e3)):
            proxy.latency_s = lat
            fresh_index = samples_from_spec(spec, opts)  # cold LRU: its block reads are counted
            rows.append(
                (
                    label,
                    _steady(listed, proxy, cfg, batches, 32, position),
                    _steady(fresh_index, proxy, cfg, batches, 32, position),
                )
            )
        proxy.latency_s = latency_ms / 1e3
        seq = _steady(listed, proxy, cfg, batches, 32, position, reads_only=True, sequential=True)
        conc = _steady(listed, proxy, cfg, batches, 32, position, reads_only=True)
        proxy.latency_s = 0.0

        def req(r):
            return " ".join(f"{k}={v}" for k, v in sorted(r.items())) or "-"

        def row(label: str, left: str, right: str) -> None:
            print(f"{label:<52}{left:>30}{right:>30}")

        row("", "no index (scan per process)", "prebuilt index")
        row("start-up: wall time per process", f"{cold['wall']:.2f} s", f"{warm['wall']:.2f} s")
        row("start-up: requests", req(cold["requests"]), req(warm["requests"]))
        row("start-up: bytes read / dataset bytes", f"{cold['bytes']:.3f}x", f"{warm['bytes']:.4f}x")
        for label, a, b in rows:
            row(f"steady {label}: GETs per sample", f"{a['gets_per_sample']:.3f}", f"{b['gets_per_sample']:.3f}")
            row(f"steady {label}: bytes read / image bytes", f"{a['amplification']:.3f}x", f"{b['amplification']:.3f}x")
            row(
                f"steady {label}: images/s, 1 worker (read+decode+crop)",
                f"{a['images_per_s']:.1f}",
                f"{b['images_per_s']:.1f}",
            )
        print(
            f"start-up ratio (no index / index): {cold['wall'] / warm['wall']:.1f}x wall, "
            f"{cold['bytes'] / max(warm['bytes'], 1e-9):.0f}x bytes"
        )
        print(f"index build, once: {built['wall']:.2f} s, {req(built['requests'])}, {built['bytes'] / 1e6:.1f} MB read")
        print(
            f"read pattern at +{latency_ms:.0f} ms, reads only, 1 worker: one GET in flight "
            f"{seq['images_per_s']:.1f} images/s, a batch's reads together {conc['images_per_s']:.1f} images/s "
            f"({conc['images_per_s'] / seq['images_per_s']:.1f}x)"
        )
    finally:
        proxy.close()
        moto.terminate()
        moto.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("cpu", "s3"), default=None, help="run one part")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per CPU scenario")
    parser.add_argument("--shards", type=int, default=100, help="S3 part: WebDataset shards")
    parser.add_argument("--per-shard", type=int, default=40, help="S3 part: JPEGs per shard")
    parser.add_argument("--batches", type=int, default=8, help="S3 part: batches of 32 per steady-state scenario")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="S3 part: added first-byte latency")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.only in (None, "cpu"):
        quick = MultiCropConfig(sizes=(32, 16), counts=(2, 4), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))
        seer = MultiCropConfig(sizes=(224, 96), counts=(2, 6), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))
        measure("quickstart: 32px digits -> 2x32 + 4x16", _encoded_digits(32), quick, 64, args.seconds)
        measure("photo: ~640x427 JPEG -> 2x224 + 6x96", _encoded_photos(), seer, 8, args.seconds)
    if args.only in (None, "s3"):
        run_s3(args.shards, args.per_shard, args.batches, args.latency_ms)


if __name__ == "__main__":
    main()
