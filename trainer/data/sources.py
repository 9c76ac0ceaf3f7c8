"""Where the samples are: list image files or WebDataset shards behind URLs.

``list_samples`` turns URLs (local paths, ``file://``, ``s3://``, ``memory://``,
anything fsspec knows) into a ``SampleIndex``: a deterministic, sorted table of
samples, each one byte range (a whole image file, or one tar member).  Sorting
the full URLs makes the sample numbering identical on every rank and across
restarts, which the global sample position relies on.

Storage options (endpoints, credentials) are kept for reading but never put in
``repr``, logs or error messages.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import fsspec
import numpy as np

from .reads import read_ranges
from .tar_index import IMAGE_EXTENSIONS, index_tar_shard

__all__ = ["SampleIndex", "SourceFormat", "expand_braces", "list_samples", "resolve_sources"]

SourceFormat = Literal["auto", "images", "webdataset"]

_BRACES = re.compile(r"\{(\d+)\.\.(\d+)\}")
_GLOB_CHARS = ("*", "?", "[")


def expand_braces(url: str) -> list[str]:
    """Expand WebDataset-style numeric ranges: ``shard-{000..002}.tar`` -> 3 URLs.

    Zero padding follows the first bound's width.  Several ranges expand as a
    product, left to right.
    """
    match = _BRACES.search(url)
    if match is None:
        return [url]
    lo, hi = match.group(1), match.group(2)
    if int(hi) < int(lo):
        raise ValueError(f"empty brace range {match.group(0)!r} in {url!r}")
    head, tail = url[: match.start()], url[match.end() :]
    out: list[str] = []
    for n in range(int(lo), int(hi) + 1):
        out.extend(expand_braces(f"{head}{n:0{len(lo)}d}{tail}"))
    return out


def _extension(path: str) -> str:
    return posixpath.splitext(path)[1].lower().lstrip(".")


def _hidden(path: str, root: str) -> bool:
    """True when a path component below ``root`` starts with a dot (temp dirs, markers)."""
    rel = path[len(root) :] if path.startswith(root) else posixpath.basename(path)
    return any(part.startswith(".") for part in rel.split("/") if part)


def _list_files(fs: fsspec.AbstractFileSystem, path: str, url: str) -> list[str]:
    if any(c in path for c in _GLOB_CHARS):
        matches = [p for p in fs.glob(path) if fs.isfile(p)]
        if not matches:
            raise FileNotFoundError(f"no files match data URL {url}")
        return sorted(matches)
    if fs.isfile(path):
        return [path]
    if fs.isdir(path):
        root = path.rstrip("/") + "/"
        return sorted(p for p in fs.find(path) if not _hidden(p, root))
    raise FileNotFoundError(f"data URL {url} is neither a file nor a directory/prefix")


def _classify(files: list[str], fmt: SourceFormat, url: str) -> tuple[list[str], list[str]]:
    """Split files into (images, tar shards) according to ``fmt``."""
    images = [p for p in files if _extension(p) in IMAGE_EXTENSIONS]
    shards = [p for p in files if _extension(p) == "tar"]
    if fmt == "images":
        shards = []
    elif fmt == "webdataset":
        images = []
    elif fmt == "auto":
        if images and shards:
            raise ValueError(
                f"data URL {url} holds both image files and .tar shards; set the format to 'images' or 'webdataset'"
            )
    else:
        raise ValueError(f"format must be 'auto', 'images' or 'webdataset', got {fmt!r}")
    if not images and not shards:
        wanted = {"images": "image files", "webdataset": ".tar shards"}.get(fmt, "images or .tar shards")
        raise ValueError(f"data URL {url} holds no {wanted} (image extensions: {', '.join(IMAGE_EXTENSIONS)})")
    return images, shards


@dataclass(frozen=True, eq=False)
class SampleIndex:
    """Sorted table of samples: sample ``i`` is bytes ``[offset, offset+size)`` of
    ``sources[source_id[i]]`` (``offset == -1``: the whole file).

    Picklable and cheap to fork into DataLoader workers (numpy arrays, not one
    Python object per sample).  Opened filesystems are cached per process.
    """

    sources: tuple[str, ...]
    source_id: np.ndarray  # int32 [N]
    offset: np.ndarray  # int64 [N]
    size: np.ndarray  # int64 [N]
    keys: tuple[str, ...]  # WebDataset key per sample, "" for image files
    storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _fs_cache: dict[str, tuple[int, fsspec.AbstractFileSystem]] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.source_id.shape[0])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fs_cache"] = {}  # never ship live connections to another process
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def url(self, i: int) -> str:
        """Human-readable location of sample ``i`` (``shard.tar#key`` for tar members)."""
        src = self.sources[int(self.source_id[i])]
        key = self.keys[i]
        return f"{src}#{key}" if key else src

    def _fs(self, url: str) -> tuple[fsspec.AbstractFileSystem, str]:
        protocol = fsspec.core.split_protocol(url)[0] or "file"
        cached = self._fs_cache.get(protocol)
        if cached is None or cached[0] != os.getpid():  # a forked worker opens its own
            fs = fsspec.filesystem(protocol, **dict(self.storage_options))
            self._fs_cache[protocol] = cached = (os.getpid(), fs)
        fs = cached[1]
        return fs, fs._strip_protocol(url)

    def read_many(self, indices: Sequence[int] | np.ndarray) -> list[bytes | BaseException]:
        """The bytes of several samples, read concurrently; a failed read is its exception."""
        ids = np.asarray(indices, dtype=np.int64)
        by_protocol: dict[str, list[int]] = {}
        for k, i in enumerate(ids.tolist()):
            src = self.sources[int(self.source_id[i])]
            by_protocol.setdefault(fsspec.core.split_protocol(src)[0] or "file", []).append(k)
        out: list[bytes | BaseException] = [b""] * len(ids)
        for ks in by_protocol.values():
            fs, _ = self._fs(self.sources[int(self.source_id[ids[ks[0]]])])
            paths = [fs._strip_protocol(self.sources[int(self.source_id[ids[k]])]) for k in ks]
            starts = [int(self.offset[ids[k]]) for k in ks]
            ends = [int(self.offset[ids[k]] + self.size[ids[k]]) for k in ks]
            for k, value in zip(ks, read_ranges(fs, paths, starts, ends), strict=True):
                out[k] = value
        return out

    def read(self, i: int) -> bytes:
        """The encoded image bytes of sample ``i`` (one whole-file or ranged read)."""
        fs, path = self._fs(self.sources[int(self.source_id[i])])
        off = int(self.offset[i])
        if off < 0:
            return fs.cat_file(path)
        return fs.cat_file(path, start=off, end=off + int(self.size[i]))


def resolve_sources(
    urls: str | Sequence[str], *, storage_options: Mapping[str, Any] | None = None, format: SourceFormat = "auto"
) -> dict[str, tuple[str, fsspec.AbstractFileSystem, str]]:
    """Every source file behind ``urls``: ``{full url: ("image" | "tar", fs, path)}``.

    The URL forms and the format rule are those of ``list_samples``; sort the
    keys to get the sample numbering's source order.
    """
    opts = dict(storage_options or {})
    url_list = [urls] if isinstance(urls, str) else list(urls)
    if not url_list:
        raise ValueError("no data URLs given")
    kinds: dict[str, tuple[str, fsspec.AbstractFileSystem, str]] = {}
    for raw in url_list:
        for url in expand_braces(raw):
            fs, path = fsspec.core.url_to_fs(url, **opts)
            images, shards = _classify(_list_files(fs, path, url), format, url)
            for kind, paths in (("image", images), ("tar", shards)):
                for p in paths:
                    kinds[fs.unstrip_protocol(p)] = (kind, fs, p)
    return kinds


def list_samples(
    urls: str | Sequence[str],
    *,
    storage_options: Mapping[str, Any] | None = None,
    format: SourceFormat = "auto",
    index_cache_dir: str | None = None,
) -> SampleIndex:
    """List every sample behind ``urls`` in a deterministic order.

    Each URL is an image file, a ``.tar`` shard, a directory/prefix (listed
    recursively; names starting with ``.`` are skipped), a glob, or a
    WebDataset brace range.  ``format='auto'`` decides per URL (a prefix with
    both images and shards is an error).  Sources are de-duplicated and sorted
    by full URL; tar samples keep their order inside the shard.
    """
    opts = dict(storage_options or {})
    kinds = resolve_sources(urls, storage_options=opts, format=format)
    sources = tuple(sorted(kinds))
    source_id: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    keys: list[str] = []
    for sid, src in enumerate(sources):
        kind, fs, path = kinds[src]
        if kind == "image":
            source_id.append(np.array([sid], np.int32))
            offsets.append(np.array([-1], np.int64))
            sizes.append(np.array([-1], np.int64))
            keys.append("")
        else:
            members = index_tar_shard(fs, path, src, cache_dir=index_cache_dir)
            source_id.append(np.full(len(members), sid, np.int32))
            offsets.append(np.array([m.offset for m in members], np.int64))
            sizes.append(np.array([m.size for m in members], np.int64))
            keys.extend(m.key for m in members)
    return SampleIndex(
        sources=sources,
        source_id=np.concatenate(source_id) if source_id else np.zeros(0, np.int32),
        offset=np.concatenate(offsets) if offsets else np.zeros(0, np.int64),
        size=np.concatenate(sizes) if sizes else np.zeros(0, np.int64),
        keys=tuple(keys),
        storage_options=opts,
    )
