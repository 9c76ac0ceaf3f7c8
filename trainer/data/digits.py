"""The quickstart dataset: scikit-learn's 8x8 digits written as image files.

``load_digits`` (1797 labelled 8x8 digits) ships inside the scikit-learn wheel,
so the quickstart needs no network.  Layout under ``root``::

    train/<label>/<i>.png        SSL training set (~80%, labels unused by SwAV)
    eval-train/<label>/<i>.png   probe training set = the same ~80% (standard protocol)
    eval-test/<label>/<i>.png    held-out ~20%, never trained on

The split is stratified per class with a fixed seed.  Writing is idempotent
and atomic: everything is built in ``root/.partial-*`` and renamed into place,
then a marker file is written last; a dataset without its marker is rebuilt.
A lock file serialises concurrent callers (several ranks on one machine).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["materialize_digits", "materialize_digits_webdataset"]

_VERSION = 1
_TEST_FRACTION = 0.2
_SPLIT_SEED = 0
SPLITS = ("train", "eval-train", "eval-test")


def _digit_png(pixels: np.ndarray, size: int) -> bytes:
    """8x8 values in [0, 16] -> RGB PNG of ``size`` px (bicubic upscaling)."""
    gray = Image.fromarray(np.rint(pixels * (255.0 / 16.0)).astype(np.uint8), mode="L")
    img = gray.resize((size, size), Image.Resampling.BICUBIC).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified deterministic split -> (train indices, test indices), both sorted."""
    rng = np.random.default_rng(_SPLIT_SEED)
    test: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.append(rng.permutation(members)[: round(len(members) * _TEST_FRACTION)])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


@contextmanager
def _locked(root: str) -> Iterator[None]:
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_folder(dst: str, indices: np.ndarray, pngs: dict[int, bytes], labels: np.ndarray) -> None:
    for i in indices.tolist():
        folder = os.path.join(dst, str(int(labels[i])))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i:04d}.png"), "wb") as f:
            f.write(pngs[i])


def _write_shards(dst: str, indices: np.ndarray, pngs: dict[int, bytes], labels: np.ndarray, shard_size: int) -> None:
    os.makedirs(dst, exist_ok=True)
    for shard, start in enumerate(range(0, len(indices), shard_size)):
        with tarfile.open(os.path.join(dst, f"shard-{shard:06d}.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in indices[start : start + shard_size].tolist():
                for name, data in ((f"{i:04d}.png", pngs[i]), (f"{i:04d}.cls", str(int(labels[i])).encode())):
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    tar.addfile(info, io.BytesIO(data))


def _materialize(root: str, size: int, marker_name: str, write_train: Callable[..., None], kind: str) -> dict[str, Any]:
    if size < 8:
        raise ValueError(f"size must be >= 8 (the digits are 8x8), got {size}")
    root = os.path.abspath(root)
    marker = os.path.join(root, marker_name)
    with _locked(root):
        others = [n for n in os.listdir(root) if n.startswith(".seer-digits") and n != marker_name]
        if others:
            raise ValueError(
                f"{root} already holds another variant of the digits dataset ({others[0]}); "
                "use a separate root for the folder and the WebDataset variants"
            )
        if os.path.exists(marker):
            with open(marker, encoding="utf-8") as f:
                info = json.load(f)
            if info.get("size") != size or info.get("version") != _VERSION:
                raise ValueError(
                    f"{root} already holds the digits dataset at size {info.get('size')} "
                    f"(version {info.get('version')}); use another root for size {size}"
                )
            return {**info, "created": False}
        from sklearn.datasets import load_digits  # heavy import, only when writing

        digits = load_digits()
        labels = np.asarray(digits.target)
        train_idx, test_idx = _split(labels)
        pngs = {i: _digit_png(digits.images[i], size) for i in range(len(labels))}
        partial = os.path.join(root, f".partial-{uuid.uuid4().hex[:8]}")
        write_train(os.path.join(partial, "train"), train_idx, pngs, labels)
        _write_folder(os.path.join(partial, "eval-train"), train_idx, pngs, labels)
        _write_folder(os.path.join(partial, "eval-test"), test_idx, pngs, labels)
        for split in SPLITS:  # leftovers of an interrupted run have no marker: replace them
            target = os.path.join(root, split)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(os.path.join(partial, split), target)
        shutil.rmtree(partial)
        for name in os.listdir(root):  # stale partials of killed runs
            if name.startswith(".partial-"):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        info = {
            "version": _VERSION,
            "kind": kind,
            "size": size,
            "root": root,
            "train": os.path.join(root, "train"),
            "eval_train": os.path.join(root, "eval-train"),
            "eval_test": os.path.join(root, "eval-test"),
            "num_train": int(len(train_idx)),
            "num_eval_train": int(len(train_idx)),
            "num_eval_test": int(len(test_idx)),
            "num_classes": int(len(np.unique(labels))),
        }
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".marker-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1)
        os.replace(tmp, marker)
        return {**info, "created": True}


def materialize_digits(root: str, *, size: int = 32) -> dict[str, Any]:
    """Write the digits as PNG folders under ``root`` (skipped when already complete).

    Returns paths (``train``, ``eval_train``, ``eval_test``), counts
    (``num_train``, ``num_eval_train``, ``num_eval_test``, ``num_classes``),
    ``size`` and ``created`` (False when an existing complete copy was found).
    """
    return _materialize(root, size, ".seer-digits.json", _write_folder, "images")


def materialize_digits_webdataset(root: str, *, size: int = 32, shard_size: int = 256) -> dict[str, Any]:
    """Like ``materialize_digits`` but ``train/`` holds WebDataset shards
    ``shard-NNNNNN.tar`` (members ``<i>.png`` + ``<i>.cls``); the evaluation
    splits stay folders."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")

    def write(dst: str, idx: np.ndarray, pngs: dict[int, bytes], labels: np.ndarray) -> None:
        _write_shards(dst, idx, pngs, labels, shard_size)

    return _materialize(root, size, ".seer-digits-webdataset.json", write, "webdataset")
