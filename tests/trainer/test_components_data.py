"""The loop's data seam reads the dataset's prebuilt index: with one, the sample table is
the index (no listing, no shard scan); a job that names a missing index fails with the
command that builds it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seer.platform.loading import validate_document
from seer.trainer.checkpoint import TrainingProgress
from seer.trainer.components import build_data
from seer.trainer.data import build_index, dataset_index


def _shard(path: Path, count: int) -> None:
    with tarfile.open(path, "w") as tar:
        for k in range(count):
            pixels = np.random.default_rng(k).integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, format="PNG")
            info = tarfile.TarInfo(f"{k:04d}.png")
            info.size = out.tell()
            out.seek(0)
            tar.addfile(info, out)


def _job(sources: str, **data: object):
    spec = {
        "model": {"variant": "regnety_200mf"},
        "swav": {"crops": {"sizes": [16], "counts": [2], "minScale": [0.5], "maxScale": [1.0]}},
        "data": {"sources": [sources], "batchSize": 4, "loaderWorkers": 0, **data},
        "checkpoint": {"url": "/tmp/unused"},
    }
    return validate_document(
        {"apiVersion": "seer.dev/v1alpha1", "kind": "SeerJob", "metadata": {"name": "d"}, "spec": spec}
    )


def test_the_training_data_comes_from_the_prebuilt_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _shard(tmp_path / "shard-000.tar", 8)
    _shard(tmp_path / "shard-001.tar", 8)
    url = str(tmp_path / "shard-{000..001}.tar")
    build_index(url)

    def no_scan(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the data was listed and scanned although an index exists")

    monkeypatch.setattr(dataset_index, "list_samples", no_scan)
    data = build_data(_job(url), rank=0, world_size=1, progress=TrainingProgress(), device=torch.device("cpu"))
    assert data.num_samples == 16 and data.steps_per_epoch == 4
    batch = next(iter(data.loader))
    assert len(batch.indices) == 4


def test_a_job_naming_a_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    _shard(tmp_path / "shard-000.tar", 8)
    url = str(tmp_path / "shard-{000..000}.tar")
    job = _job(url, index=str(tmp_path / "no-index-here"))
    with pytest.raises(FileNotFoundError, match="seer.trainer.data index"):
        build_data(job, rank=0, world_size=1, progress=TrainingProgress(), device=torch.device("cpu"))
