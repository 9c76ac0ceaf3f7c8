"""Small on-disk datasets for the data-pipeline tests."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from PIL import Image

from seer.trainer.data.multicrop_config import MultiCropConfig


def encode(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def random_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


@pytest.fixture
def image_dir(tmp_path):
    """12 small images of mixed formats and sizes in nested folders."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for i in range(12):
        sub = root / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        ext, fmt = [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")][i % 3]
        (sub / f"img{i:02d}.{ext}").write_bytes(encode(random_image(rng, 20 + i, 24 + 2 * i), fmt))
    (root / "notes.txt").write_text("not an image")
    return root


def write_shard(path: str, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def make_shard():
    """Writes a tar shard from ``[(member name, bytes)]``."""
    return write_shard


@pytest.fixture
def make_image():
    """``make_image(height, width, fmt, seed=0) -> encoded bytes`` of random pixels."""

    def make(height: int, width: int, fmt: str = "PNG", seed: int = 0) -> bytes:
        return encode(random_image(np.random.default_rng(seed), height, width), fmt)

    return make


@pytest.fixture
def small_crops() -> MultiCropConfig:
    """The quickstart geometry: 2 x 32 px + 4 x 16 px."""
    return MultiCropConfig(sizes=(32, 16), counts=(2, 4), min_scale=(0.14, 0.05), max_scale=(1.0, 0.14))


@pytest.fixture(scope="session")
def digits_root(tmp_path_factory) -> str:
    from seer.trainer.data.digits import materialize_digits

    root = str(tmp_path_factory.mktemp("digits"))
    materialize_digits(root, size=16)
    return root


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
