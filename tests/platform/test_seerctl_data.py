"""``seerctl data index``: builds the dataset's sample index once, next to the data,
through the trainer's indexer in a child process (the platform never imports the trainer)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _shard(path: Path, first: int, count: int) -> None:
    with tarfile.open(path, "w") as tar:
        for k in range(first, first + count):
            data = _png(k)
            info = tarfile.TarInfo(f"{k:04d}.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def seerctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seer.platform.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_data_index_writes_the_index_next_to_the_data_and_it_counts_every_sample(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _shard(data / "shard-000.tar", 0, 3)
    _shard(data / "shard-001.tar", 3, 4)
    result = seerctl("data", "index", str(data / "shard-{000..001}.tar"))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["samples"] == 7 and summary["sources"] == 2
    assert Path(summary["index"]) == data / ".seer-index"
    assert any((data / ".seer-index").iterdir())


def test_data_index_of_nothing_fails_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    result = seerctl("data", "index", str(tmp_path / "missing-{000..001}.tar"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() or result.stdout.strip()
