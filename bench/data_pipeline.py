"""Data-pipeline throughput: decoded + multi-cropped images per second per core.

Runs in one process with one torch thread, so the number is per core:

* quickstart: 32 px digits (PNG) -> 2 x 32 px + 4 x 16 px crops;
* photo: scikit-learn's two sample photos (JPEG, ~640 x 427) -> 2 x 224 + 6 x 96 px.

Also prints the share of time spent decoding versus cropping.  Usage:
``OMP_NUM_THREADS=1 python bench/data_pipeline.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import io
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per scenario")
    args = parser.parse_args()
    torch.set_num_threads(1)
    quick = MultiCropConfig(sizes=(32, 16), counts=(2, 4), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))
    seer = MultiCropConfig(sizes=(224, 96), counts=(2, 6), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))
    measure("quickstart: 32px digits -> 2x32 + 4x16", _encoded_digits(32), quick, 64, args.seconds)
    measure("photo: ~640x427 JPEG -> 2x224 + 6x96", _encoded_photos(), seer, 8, args.seconds)


if __name__ == "__main__":
    main()
