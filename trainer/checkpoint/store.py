"""The object-storage edge: list, inspect, commit and delete step directories.

Everything that touches fsspec for checkpoint bookkeeping lives here (DCP
itself writes the shards). Paths are handled as full URLs towards DCP and as
protocol-less paths towards the fsspec filesystem.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from seer.trainer.storage import protocol_of, redact

from .layout import MANIFEST_NAME, StepEntry, is_complete, parse_step_dir, step_dir_name
from .manifest import Manifest

__all__ = ["QUARANTINE_DIR", "CheckpointInfo", "CheckpointStore", "latest_complete"]

#: Where checkpoints that failed to load are moved (under the checkpoint URL).
QUARANTINE_DIR = "quarantine"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointInfo:
    """A committed checkpoint: where it is and what its manifest says."""

    url: str  # the step directory, e.g. s3://bucket/run/step-00000123
    step: int
    manifest: Manifest


class CheckpointStore:
    """Bookkeeping on the step directories under one checkpoint URL.

    Listings bypass fsspec's directory cache: other ranks (other processes)
    write into the same prefix, so a cached listing would be stale.
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = url.rstrip("/") or url
        self.storage_options: dict[str, Any] = dict(storage_options or {})
        fs, root = url_to_fs(self.url, **self.storage_options)
        self.fs: AbstractFileSystem = fs
        self.root: str = root.rstrip("/") or root
        self._local = protocol_of(self.url) == "file"

    def __repr__(self) -> str:
        return f"CheckpointStore(url={self.url!r}, storage_options={redact(self.storage_options)!r})"

    def step_url(self, step: int) -> str:
        """The URL DCP writes step ``step`` to (keeps the protocol so DCP picks the right filesystem)."""
        return f"{self.url}/{step_dir_name(step)}"

    def _step_path(self, step: int) -> str:
        return posixpath.join(self.root, step_dir_name(step))

    def _names(self, path: str) -> list[str]:
        self.fs.invalidate_cache(path)
        try:
            return [posixpath.basename(p.rstrip("/")) for p in self.fs.ls(path, detail=False)]
        except FileNotFoundError:
            return []

    def entries(self) -> list[StepEntry]:
        """Every step directory, complete or torn, in step order."""
        found = []
        for name in self._names(self.root):
            step = parse_step_dir(name)
            if step is not None:
                found.append(StepEntry(step=step, complete=is_complete(self._names(self._step_path(step)))))
        return sorted(found, key=lambda e: e.step)

    def exists(self, step: int) -> bool:
        return bool(self._names(self._step_path(step)))

    def is_complete(self, step: int) -> bool:
        return is_complete(self._names(self._step_path(step)))

    def read_manifest(self, step: int) -> Manifest:
        return Manifest.from_json(self.fs.cat_file(posixpath.join(self._step_path(step), MANIFEST_NAME)))

    def write_manifest(self, step: int, manifest: Manifest) -> None:
        """Commit step ``step``. Must run after DCP's ``.metadata`` exists.

        On a local filesystem the manifest is written to a temporary name and
        renamed (atomic); on object stores a single PUT is atomic already.
        """
        path = posixpath.join(self._step_path(step), MANIFEST_NAME)
        data = manifest.to_json().encode()
        if self._local:
            tmp = path + ".tmp"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        else:
            self.fs.pipe_file(path, data)

    def remove(self, step: int) -> None:
        path = self._step_path(step)
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        self.fs.invalidate_cache(path)

    def quarantine(self, step: int) -> str:
        """Move step ``step`` to ``<url>/quarantine/step-N.<UTC time>`` and return its new URL.

        A checkpoint that fails to load is kept for a post-mortem but must never be tried
        again: ``quarantine`` is not a step directory, so listing, resume, retention and
        garbage collection never see it (and a later save of the same step starts clean).
        """
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = posixpath.join(self.root, QUARANTINE_DIR, f"{step_dir_name(step)}.{stamp}")
        source = self._step_path(step)
        self.fs.invalidate_cache(source)
        if self._local:  # one atomic rename
            self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            self.fs.mv(source, target, recursive=True)
        else:  # object stores have no rename: copy every object, then delete the originals
            for path in self.fs.find(source):
                self.fs.copy(path, posixpath.join(target, posixpath.relpath(path, source)))
            self.fs.rm(source, recursive=True)
        self.fs.invalidate_cache(self.root)
        return f"{self.url}/{QUARANTINE_DIR}/{posixpath.basename(target)}"

    def latest_complete(self, exclude: Collection[int] = ()) -> CheckpointInfo | None:
        """The newest committed checkpoint whose step is not in ``exclude``; torn and unreadable ones are skipped."""
        for entry in reversed(self.entries()):
            if entry.step in exclude:
                continue
            if not entry.complete:
                log.info("skipping torn checkpoint %s", self.step_url(entry.step))
                continue
            try:
                manifest = self.read_manifest(entry.step)
            except (OSError, ValueError) as exc:
                log.warning("skipping checkpoint %s with unreadable manifest: %s", self.step_url(entry.step), exc)
                continue
            return CheckpointInfo(url=self.step_url(entry.step), step=entry.step, manifest=manifest)
        return None


def latest_complete(url: str, storage_options: Mapping[str, Any] | None = None) -> CheckpointInfo | None:
    """The newest complete checkpoint under ``url``, or ``None`` when there is none.

    Pure read; safe to call from any process (e.g. the supervisor deciding whether to resume).
    """
    return CheckpointStore(url, storage_options).latest_complete()
