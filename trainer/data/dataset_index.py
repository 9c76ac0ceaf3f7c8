"""A sample index built once, next to the data, and read lazily by every process.

Without it every rank (and every restart) lists and scans every tar shard to
learn where each sample lives: at 10^5 shards that is the whole dataset read
per rank and ~200 bytes of Python objects per sample.  With it:

* ``build_index(urls)`` (``python -m seer.trainer.data index URL...``, run once
  as a job) writes ``<data>/.seer-index/``:

  - ``manifest.json``: the URLs it was built from, the format, the common
    ``root`` and, per source (sorted, the sample numbering's order): relative
    ``name``, ``size``, ``version`` (ETag, else mtime) and cumulative sample
    count ``end``.  ~100 bytes per shard: ~10 MB for 10^5 shards.
  - ``offsets/NNNNNNNN.bin``: block ``k`` holds ``(offset, size)`` of samples
    ``[k * BLOCK_ROWS, (k+1) * BLOCK_ROWS)`` in global sample order, as
    little-endian int64 pairs (16 bytes per sample, no header; ``offset -1``:
    a whole image file).  ``BLOCK_ROWS`` equals the epoch order's ``CHUNK``,
    so a chunk the order visits is exactly one GET of 128 KiB.
  - ``keys/NNNNNN.json``: the WebDataset keys, read only to name a bad sample.

  The directory name starts with a dot, so listing the data skips it.

* ``load_manifest`` + ``validate_manifest`` at start: one GET for the manifest
  and one LIST per directory of shards (no per-shard HEAD).  A shard whose size
  or version changed, a missing shard or a new shard matching the URLs makes
  the index stale: it is refused with a message that says how to rebuild it.

* ``IndexedSamples``: the sample table a loader reads from.  It keeps only the
  manifest's names and cumulative counts and fetches offsets blocks on
  demand through an LRU of at most ``max_blocks`` blocks (default 256 x 128 KiB
  = 32 MiB; a window of the epoch order needs 64-65).  The epoch order visits a bounded
  set of chunks at a time (``permutation.py``), so the LRU hit rate is high.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import fsspec
import numpy as np

from .permutation import CHUNK
from .reads import WHOLE, read_ranges
from .sources import SampleIndex, SourceFormat, expand_braces, list_samples, resolve_sources
from .tar_index import IMAGE_EXTENSIONS, scan_tar_shard, version_tag

__all__ = [
    "BLOCK_ROWS",
    "INDEX_DIR",
    "IndexedSamples",
    "Manifest",
    "StaleIndexError",
    "build_index",
    "default_index_url",
    "load_manifest",
    "samples_from_spec",
    "validate_manifest",
]

log = logging.getLogger("seer.trainer.data")

INDEX_DIR = ".seer-index"
MANIFEST = "manifest.json"
INDEX_VERSION = 1
#: Samples per offsets file: one chunk of the epoch order, fetched by one GET.
BLOCK_ROWS = CHUNK
_GLOB = re.compile(r"[*?\[]")
BUILD_COMMAND = "python -m seer.trainer.data index"  # what `seerctl data index` runs

#: Reads one offsets block: ``(block number, first sample, sample count) -> int64 [count, 2]``.
BlockReader = Callable[[int, int, int], np.ndarray]


class StaleIndexError(ValueError):
    """The prebuilt index does not describe the data any more (or other URLs)."""


def _rebuild_hint(urls: Sequence[str], index_url: str) -> str:
    return f"rebuild it: {BUILD_COMMAND} {' '.join(urls)} --out {index_url}"


def _static_dir(url: str) -> str:
    """The directory a data URL lives in: the part before any brace/glob, as a directory."""
    cut = min([m.start() for m in (_GLOB.search(url), re.search(r"\{", url)) if m] or [len(url)])
    static = url[:cut]
    if cut < len(url) or posixpath.splitext(static)[1].lower().lstrip(".") in ("tar", *IMAGE_EXTENSIONS):
        return static.rsplit("/", 1)[0]
    return static.rstrip("/")


def default_index_url(urls: str | Sequence[str]) -> str:
    """Where the index of ``urls`` lives by default: ``<common directory>/.seer-index``.

    The common directory is the longest shared directory of the URLs' static
    parts (before any brace range or glob; a URL naming a prefix is a directory).
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    if not url_list:
        raise ValueError("no data URLs given")
    dirs = [_static_dir(u) for u in url_list]
    common = dirs[0]
    for d in dirs[1:]:
        while common and not (d == common or d.startswith(common.rstrip("/") + "/")):
            common = common.rsplit("/", 1)[0] if "/" in common else ""
    if not common:
        raise ValueError(f"data URLs {url_list} share no directory; set data.index to where the index should live")
    return f"{common}/{INDEX_DIR}"


@dataclass(frozen=True, eq=False)
class Manifest:
    """What ``manifest.json`` holds (arrays are one entry per source, in sample order)."""

    urls: tuple[str, ...]
    format: str
    root: str  # full URL ending in "/": source s is root + names[s]
    names: tuple[str, ...]
    is_tar: np.ndarray  # bool [S]
    sizes: np.ndarray  # int64 [S]
    versions: tuple[str, ...]
    ends: np.ndarray  # int64 [S]: cumulative sample counts

    @property
    def num_samples(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "seer_index": INDEX_VERSION,
                "urls": list(self.urls),
                "format": self.format,
                "root": self.root,
                "sources": [
                    [n, "tar" if t else "image", int(z), v, int(e)]
                    for n, t, z, v, e in zip(self.names, self.is_tar, self.sizes, self.versions, self.ends, strict=True)
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        doc = json.loads(text)
        if doc.get("seer_index") != INDEX_VERSION:
            raise StaleIndexError(
                f"index at {where} has version {doc.get('seer_index')!r}, this Seer reads {INDEX_VERSION}; "
                f"{_rebuild_hint(doc.get('urls', ['URL...']), where)}"
            )
        rows = doc["sources"]
        return cls(
            urls=tuple(doc["urls"]),
            format=doc["format"],
            root=doc["root"],
            names=tuple(r[0] for r in rows),
            is_tar=np.array([r[1] == "tar" for r in rows], dtype=bool),
            sizes=np.array([r[2] for r in rows], dtype=np.int64),
            versions=tuple(r[3] for r in rows),
            ends=np.array([r[4] for r in rows], dtype=np.int64),
        )


def _common_root(sources: Sequence[str]) -> str:
    root = posixpath.dirname(sources[0])
    for s in sources[1:]:
        while not s.startswith(root + "/"):
            root = posixpath.dirname(root)
    return root + "/"


def build_index(
    urls: str | Sequence[str],
    *,
    storage_options: Mapping[str, Any] | None = None,
    format: SourceFormat = "auto",
    index_url: str | None = None,
    threads: int = 16,
) -> tuple[str, Manifest]:
    """Scan every shard once and write the index; returns ``(index URL, manifest)``.

    Shards are scanned by ``threads`` threads.  The manifest is written last, so
    a present manifest means a complete index.
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    opts = dict(storage_options or {})
    target = index_url or default_index_url(url_list)
    kinds = resolve_sources(url_list, storage_options=opts, format=format)
    sources = sorted(kinds)
    if not sources:
        raise ValueError(f"data URLs {url_list} hold no samples")
    out_fs, out_path = fsspec.core.url_to_fs(target, **opts)
    for sub in ("offsets", "keys"):
        out_fs.makedirs(f"{out_path}/{sub}", exist_ok=True)  # local paths need them; a no-op on object stores

    listed = _list_directories(kinds[sources[0]][1], sources)

    def one(sid: int) -> tuple[int, str, np.ndarray]:
        kind, fs, path = kinds[sources[sid]]
        info = listed.get(sources[sid]) or fs.info(path)
        rows = np.array([[WHOLE, -1]], dtype="<i8")
        if kind == "tar":
            samples = scan_tar_shard(fs, path, sources[sid])
            rows = np.array([(s.offset, s.size) for s in samples], dtype="<i8").reshape(-1, 2)
            out_fs.pipe_file(f"{out_path}/keys/{sid:06d}.json", json.dumps([s.key for s in samples]).encode())
        return int(info.get("size") or 0), version_tag(info), rows

    results: list[tuple[int, str, int]] = []
    pending: list[np.ndarray] = []  # rows not yet written, in sample order
    written = 0
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for size, version, rows in pool.map(one, range(len(sources))):  # in source order
            results.append((size, version, len(rows)))
            pending.append(rows)
            held = sum(len(r) for r in pending)
            while held >= BLOCK_ROWS or (len(results) == len(sources) and held):
                block = np.concatenate(pending)
                out_fs.pipe_file(f"{out_path}/offsets/{written // BLOCK_ROWS:08d}.bin", block[:BLOCK_ROWS].tobytes())
                written += min(BLOCK_ROWS, held)
                pending = [block[BLOCK_ROWS:]]
                held = len(pending[0])
    root = _common_root(sources)
    manifest = Manifest(
        urls=tuple(url_list),
        format=str(format),
        root=root,
        names=tuple(s[len(root) :] for s in sources),
        is_tar=np.array([kinds[s][0] == "tar" for s in sources], dtype=bool),
        sizes=np.array([r[0] for r in results], dtype=np.int64),
        versions=tuple(r[1] for r in results),
        ends=np.cumsum([r[2] for r in results]).astype(np.int64),
    )
    out_fs.pipe_file(f"{out_path}/{MANIFEST}", manifest.to_json().encode())
    return target, manifest


def _list_directories(fs: fsspec.AbstractFileSystem, urls: Sequence[str] | Mapping[str, Any]) -> dict[str, dict]:
    """``{full url: listing entry}`` of every file in the directories holding ``urls``.

    One paginated LIST per directory: sizes and ETags come with the listing, so
    neither building nor validating issues a HEAD per shard.
    """
    listed: dict[str, dict[str, Any]] = {}
    for directory in sorted({posixpath.dirname(u) for u in urls}):
        try:
            entries = fs.ls(fs._strip_protocol(directory), detail=True)
        except FileNotFoundError:
            entries = []
        for e in entries:
            if e.get("type", "file") == "file":
                listed[fs.unstrip_protocol(e["name"])] = e
    return listed


def load_manifest(index_url: str, storage_options: Mapping[str, Any] | None = None) -> Manifest | None:
    """The manifest at ``index_url``, or ``None`` when there is none (one GET)."""
    fs, path = fsspec.core.url_to_fs(index_url, **dict(storage_options or {}))
    try:
        text = fs.cat_file(f"{path}/{MANIFEST}")
    except FileNotFoundError:
        return None
    return Manifest.from_json(text.decode(), index_url)


def _selected_by(urls: Sequence[str], fmt: str, opts: Mapping[str, Any]) -> Callable[[str, str], bool]:
    """``(full url, kind) -> bool``: would listing ``urls`` in ``fmt`` pick this file?"""
    exact: set[str] = set()
    globs: list[str] = []
    prefixes: list[str] = []
    for raw in urls:
        fs, _ = fsspec.core.url_to_fs(raw, **opts)  # one filesystem per URL, not per expanded name
        for url in expand_braces(raw):
            norm = fs.unstrip_protocol(fs._strip_protocol(url))
            if _GLOB.search(norm):
                globs.append(norm)
            else:
                exact.add(norm)
                prefixes.append(norm.rstrip("/") + "/")

    def selected(full: str, kind: str) -> bool:
        if fmt == "images" and kind == "tar" or fmt == "webdataset" and kind == "image":
            return False
        if full in exact or any(fnmatchcase(full, g) for g in globs):
            return True
        return any(full.startswith(p) and not _hidden(full[len(p) :]) for p in prefixes)

    return selected


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/") if part)


def _kind(path: str) -> str | None:
    ext = posixpath.splitext(path)[1].lower().lstrip(".")
    return "tar" if ext == "tar" else "image" if ext in IMAGE_EXTENSIONS else None


def validate_manifest(
    manifest: Manifest,
    index_url: str,
    urls: Sequence[str],
    format: SourceFormat = "auto",
    storage_options: Mapping[str, Any] | None = None,
) -> None:
    """Raise ``StaleIndexError`` unless the index describes exactly the data ``urls`` name now.

    Checks the URLs and format it was built for, then lists each directory that
    holds sources (one paginated LIST each, no HEAD per shard) and compares
    every source's size and version; a file the URLs would now pick up that the
    index lacks is a change too.  New files in new sub-folders are not seen.
    """
    same_urls = sorted(u.rstrip("/") for u in manifest.urls) == sorted(u.rstrip("/") for u in urls)
    # "auto" picks the only kind present (both kinds under one URL is an error), so it matches either.
    same_format = "auto" in (format, manifest.format) or format == manifest.format
    if not (same_urls and same_format):
        raise StaleIndexError(
            f"the index at {index_url} was built for {list(manifest.urls)} (format {manifest.format}), "
            f"not for data.sources {list(urls)} (format {format}); {_rebuild_hint(urls, index_url)}"
        )
    fs, _ = fsspec.core.url_to_fs(manifest.root, **dict(storage_options or {}))
    wanted = {manifest.root + n: s for s, n in enumerate(manifest.names)}
    listed = _list_directories(fs, wanted)
    problems: list[str] = []
    for url, s in wanted.items():
        info = listed.get(url)
        if info is None:
            problems.append(f"{url} is gone")
        elif int(info.get("size") or 0) != int(manifest.sizes[s]):
            problems.append(f"{url} changed size ({manifest.sizes[s]} -> {info.get('size')} bytes)")
        elif manifest.versions[s] and version_tag(info) and version_tag(info) != manifest.versions[s]:
            problems.append(f"{url} changed ({manifest.versions[s]} -> {version_tag(info)})")
    selected = _selected_by(urls, format, dict(storage_options or {}))
    for url in sorted(set(listed) - set(wanted)):
        kind = _kind(url)
        if kind and selected(url, kind):
            problems.append(f"{url} is new")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise StaleIndexError(
            f"the index at {index_url} no longer matches the data: {shown}. {_rebuild_hint(urls, index_url)}"
        )


class IndexedSamples:
    """Samples addressed through a prebuilt index: O(shards) memory, offsets fetched lazily.

    Same reading surface as ``SampleIndex`` (``len``, ``read``, ``read_many``,
    ``url``, ``locate``).  Picklable for loader workers: the LRU and open
    filesystems are per process and never shipped.
    """

    def __init__(
        self,
        manifest: Manifest,
        index_url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        max_blocks: int = 256,
        block_reader: BlockReader | None = None,
    ) -> None:
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be >= 1, got {max_blocks}")
        self.root, self.names, self.is_tar = manifest.root, manifest.names, manifest.is_tar
        self.ends, self.file_sizes = manifest.ends, manifest.sizes
        self.starts = np.concatenate([[0], manifest.ends[:-1]]).astype(np.int64)
        self.index_url = index_url
        self.storage_options = dict(storage_options or {})
        self.max_blocks = max_blocks
        self.block_reader = block_reader
        self.blocks_fetched = 0  # counted, for tests and benchmarks
        self._blocks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._fs: tuple[int, fsspec.AbstractFileSystem] | None = None

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_blocks"], state["_fs"] = OrderedDict(), None
        return state

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.root + n for n in self.names)

    def _filesystem(self) -> fsspec.AbstractFileSystem:
        if self._fs is None or self._fs[0] != os.getpid():
            fs, _ = fsspec.core.url_to_fs(self.root, **self.storage_options)
            self._fs = (os.getpid(), fs)
        return self._fs[1]

    def _read_block(self, block: int, first: int, count: int) -> np.ndarray:
        if self.block_reader is not None:
            return self.block_reader(block, first, count)
        fs, path = fsspec.core.url_to_fs(f"{self.index_url}/offsets/{block:08d}.bin", **self.storage_options)
        data = fs.cat_file(path, start=0, end=count * 16)  # ranged: one GET, no HEAD first
        rows = np.frombuffer(data, dtype="<i8").reshape(-1, 2)
        if len(rows) != count:
            raise StaleIndexError(f"offsets block {block} of the index at {self.index_url} is damaged; rebuild it")
        return rows

    def _rows(self, block: int) -> np.ndarray:
        rows = self._blocks.get(block)
        if rows is not None:
            self._blocks.move_to_end(block)
            return rows
        first = block * BLOCK_ROWS
        rows = self._read_block(block, first, min(BLOCK_ROWS, len(self) - first))
        self.blocks_fetched += 1
        self._blocks[block] = rows
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
        return rows

    def locate(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(source number, offset, size)`` per sample (an image file: ``0`` and its size)."""
        ids = np.asarray(indices, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(f"sample indices must be in [0, {len(self)})")
        sid = np.searchsorted(self.ends, ids, side="right")
        # Image files: the manifest knows their size, so a ranged read (one GET, no HEAD first).
        offset = np.zeros(ids.shape, dtype=np.int64)
        size = self.file_sizes[sid].astype(np.int64)
        tar = self.is_tar[sid]
        blocks = ids // BLOCK_ROWS
        for block in np.unique(blocks[tar]).tolist():
            mine = tar & (blocks == block)
            rows = self._rows(block)[ids[mine] - block * BLOCK_ROWS]
            offset[mine], size[mine] = rows[:, 0], rows[:, 1]
        return sid, offset, size

    def read_many(self, indices: Sequence[int] | np.ndarray) -> list[bytes | BaseException]:
        """The bytes of several samples, read concurrently; a failed read is its exception."""
        sid, offset, size = self.locate(indices)
        fs = self._filesystem()
        paths = [fs._strip_protocol(self.root + self.names[s]) for s in sid.tolist()]
        return read_ranges(fs, paths, offset.tolist(), (offset + size).tolist())

    def read(self, i: int) -> bytes:
        """The encoded image bytes of sample ``i``."""
        (value,) = self.read_many([i])
        if isinstance(value, BaseException):
            raise value
        return value

    def url(self, i: int) -> str:
        """Human-readable location of sample ``i`` (``shard.tar#key``; reads the keys file)."""
        s = int(np.searchsorted(self.ends, i, side="right"))
        src = self.root + self.names[s]
        if not self.is_tar[s]:
            return src
        local = int(i - self.starts[s])
        try:
            fs, path = fsspec.core.url_to_fs(f"{self.index_url}/keys/{s:06d}.json", **self.storage_options)
            return f"{src}#{json.loads(fs.cat_file(path))[local]}"
        except Exception:  # only for a message: never fail because of it
            return f"{src}#sample-{local}"


#: Above this many tar shards without a prebuilt index, say how to build one.
_SUGGEST_INDEX_ABOVE = 100


def samples_from_spec(
    data: Any,
    storage_options: Mapping[str, Any] | None = None,
    *,
    index_cache_dir: str | None = None,
    validate: bool = True,
) -> SampleIndex | IndexedSamples:
    """The sample table for a ``DataSpec`` (``sources``, ``format``, ``index``): what the loop lists.

    ``data.index`` set: that index must exist and match the data.  Unset: the
    index at ``default_index_url(sources)`` is used when present (and refused
    when stale); when absent, this process lists and scans the data itself
    (fine for small datasets) and, for many shards, logs how to build an index.
    ``validate=False`` skips listing the data against the index (the LIST pages:
    ~100 per process for 10^5 shards): for ranks other than one that validated.
    """
    urls = list(data.sources)
    fmt = str(getattr(data.format, "value", data.format))
    explicit = getattr(data, "index", None)
    index_url = explicit or default_index_url(urls)
    manifest = load_manifest(index_url, storage_options)
    if manifest is None:
        if explicit:
            raise FileNotFoundError(
                f"data.index is {explicit} but it holds no {MANIFEST}; build it: "
                f"{BUILD_COMMAND} {' '.join(urls)} --out {explicit}"
            )
        started = time.monotonic()
        samples = list_samples(urls, storage_options=storage_options, format=fmt, index_cache_dir=index_cache_dir)  # type: ignore[arg-type]
        shards = sum(1 for s in samples.sources if s.endswith(".tar"))
        level = logging.WARNING if shards > _SUGGEST_INDEX_ABOVE else logging.INFO
        log.log(
            level,
            "no prebuilt sample index at %s: this process listed and scanned %d shards itself (%.1f s; every "
            "process does, and reads about each whole shard on object storage). Fine for small datasets; for "
            "large ones build it once: %s %s",
            index_url,
            shards,
            time.monotonic() - started,
            BUILD_COMMAND,
            " ".join(urls),
        )
        return samples
    if validate:
        validate_manifest(manifest, index_url, urls, fmt, storage_options)  # type: ignore[arg-type]
    return IndexedSamples(manifest, index_url, storage_options=storage_options)
