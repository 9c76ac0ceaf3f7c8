"""Random access into WebDataset tar shards: a per-shard index of samples.

A WebDataset sample is the group of tar members that share a key (the member
name up to the first dot of its base name: ``dir/0001.jpg`` and ``dir/0001.cls``
form sample ``dir/0001``).  The image is the member whose extension is one of
``IMAGE_EXTENSIONS``.

Cost (documented because it matters at scale): building an index reads every
tar header once (512 bytes per member plus long-name/pax headers) and seeks
over the data.  Locally that is cheap.  On object storage fsspec's read-ahead
cache fetches blocks (s3fs: 5 MiB by default), so for shards of small images
indexing reads roughly the whole shard once.  The index is therefore cached:
in memory per process, and on disk (JSON, keyed by URL + size + version tag)
when ``cache_dir`` is given, so a restart does not scan again.  Reading one
sample afterwards is a single ranged read of ``size`` bytes at ``offset``.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tarfile
import tempfile
from dataclasses import dataclass
from typing import Any

import fsspec

__all__ = [
    "IMAGE_EXTENSIONS",
    "TarSample",
    "clear_memory_cache",
    "index_tar_shard",
    "scan_tar_shard",
    "split_key",
    "version_tag",
]

#: Extensions recognised as images, in order of preference within one sample.
IMAGE_EXTENSIONS: tuple[str, ...] = ("jpg", "jpeg", "png", "webp")

_INDEX_VERSION = 1
_memory_cache: dict[tuple[str, int, str], tuple["TarSample", ...]] = {}


@dataclass(frozen=True, slots=True)
class TarSample:
    """The image member of one sample: its key and byte range in the shard."""

    key: str
    offset: int  # byte offset of the member's data
    size: int  # member size in bytes


def split_key(member_name: str) -> tuple[str, str]:
    """Split ``dir/name.ext.more`` into WebDataset key ``dir/name`` and ``ext.more``."""
    dirname, base = posixpath.split(member_name)
    stem, dot, ext = base.partition(".")
    key = posixpath.join(dirname, stem) if dirname else stem
    return key, ext.lower() if dot else ""


def _scan(fileobj: Any) -> tuple[TarSample, ...]:
    """Read tar headers and return image members grouped by key, in tar order."""
    found: dict[str, dict[str, tuple[int, int]]] = {}
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        while (info := tar.next()) is not None:
            # Drop the member list tarfile keeps: shards may hold 10^5 members.
            tar.members.clear()
            if not info.isfile():
                continue
            key, ext = split_key(info.name)
            if ext in IMAGE_EXTENSIONS:
                found.setdefault(key, {})[ext] = (info.offset_data, info.size)
    samples = []
    for key, by_ext in found.items():  # dict order = first appearance in the tar
        ext = next(e for e in IMAGE_EXTENSIONS if e in by_ext)
        offset, size = by_ext[ext]
        samples.append(TarSample(key=key, offset=offset, size=size))
    return tuple(samples)


def scan_tar_shard(fs: fsspec.AbstractFileSystem, path: str, url: str) -> tuple[TarSample, ...]:
    """Read one shard's tar headers (no caching: what the one-time index builder calls).

    Raises ``ValueError`` naming the shard when it is not a readable tar file.
    """
    try:
        with fs.open(path, "rb") as f:
            return _scan(f)
    except tarfile.TarError as err:
        raise ValueError(f"cannot index WebDataset shard {url}: {err}") from err


def version_tag(info: dict[str, Any]) -> str:
    """What identifies one version of an object in a listing/info entry (ETag, else mtime)."""
    return _version_tag(info)


def _version_tag(info: dict[str, Any]) -> str:
    for field in ("ETag", "etag", "mtime", "LastModified", "created"):
        if info.get(field) is not None:
            return f"{field}={info[field]}"
    return ""


def index_tar_shard(
    fs: fsspec.AbstractFileSystem, path: str, url: str, *, cache_dir: str | None = None
) -> tuple[TarSample, ...]:
    """Index one shard (``path`` on ``fs``; ``url`` is its full URL, used as cache key).

    Raises ``ValueError`` naming the shard when it is not a readable tar file.
    """
    info = fs.info(path)
    cache_key = (url, int(info.get("size") or 0), _version_tag(info))
    cached = _memory_cache.get(cache_key)
    if cached is not None:
        return cached
    disk_path = None
    if cache_dir is not None:
        digest = hashlib.sha256(repr((_INDEX_VERSION, *cache_key)).encode()).hexdigest()
        disk_path = os.path.join(cache_dir, f"{digest[:32]}.json")
        if os.path.exists(disk_path):
            with open(disk_path, encoding="utf-8") as f:
                rows = json.load(f)["samples"]
            samples = tuple(TarSample(key=k, offset=o, size=s) for k, o, s in rows)
            _memory_cache[cache_key] = samples
            return samples
    samples = scan_tar_shard(fs, path, url)
    _memory_cache[cache_key] = samples
    if disk_path is not None:
        os.makedirs(cache_dir, exist_ok=True)  # type: ignore[arg-type]
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"url": url, "samples": [[s.key, s.offset, s.size] for s in samples]}, f)
        os.replace(tmp, disk_path)
    return samples


def clear_memory_cache() -> None:
    """Forget in-process indices (tests use it to prove the disk cache is used)."""
    _memory_cache.clear()
