"""A local directory that fills up: the fault injection of the checkpoint-write tests.

``quotafile:///abs/path`` is the local filesystem with a byte quota over everything under
:attr:`QuotaFileSystem.root_dir`: a write that would take the usage past
:attr:`QuotaFileSystem.quota` raises ``OSError(ENOSPC)``, as a full tmpfs does. DCP turns
that into its ``CheckpointException`` (a ``BaseException``), exactly as on a real full
disk, without root or a mount.

In another process (a worker under torchrun or the local supervisor) the same filesystem
is registered by ``full_disk_site/sitecustomize.py`` when ``PYTHONPATH`` holds that
folder and :data:`ENV_QUOTA` / :data:`ENV_ROOT` are set.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem

PROTOCOL = "quotafile"
ENV_QUOTA = "SEER_TEST_QUOTA_BYTES"
ENV_ROOT = "SEER_TEST_QUOTA_ROOT"
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "full_disk_site")


def used_bytes(root: str) -> int:
    """Bytes in every file under ``root``."""
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except FileNotFoundError:  # renamed or removed meanwhile
                pass
    return total


class _QuotaOpener(LocalFileOpener):
    def write(self, data: Any) -> int:
        fs = self.fs
        assert isinstance(fs, QuotaFileSystem)
        if used_bytes(fs.root_dir) + len(data) > fs.quota:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)
        return super().write(data)


class QuotaFileSystem(LocalFileSystem):
    """The local filesystem, full once ``quota`` bytes are used under ``root_dir`` (class-wide settings)."""

    protocol = PROTOCOL
    root_dir: str = "/nonexistent"
    quota: int = 2**62

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        path = str(path)
        if path.startswith(f"{PROTOCOL}://"):
            path = path[len(PROTOCOL) + 3 :]
        return super()._strip_protocol(path)

    def _open(self, path: Any, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> Any:
        if "w" not in mode and "a" not in mode:
            return super()._open(path, mode, block_size, **kwargs)
        path = self._strip_protocol(path)
        if self.auto_mkdir:
            self.makedirs(self._parent(path), exist_ok=True)
        return _QuotaOpener(path, mode, fs=self, **kwargs)


def install(root: str, quota: int) -> str:
    """Register ``quotafile://`` with ``quota`` bytes under ``root``; returns the URL of ``root``."""
    QuotaFileSystem.root_dir = root
    QuotaFileSystem.quota = quota
    fsspec.register_implementation(PROTOCOL, QuotaFileSystem, clobber=True)
    return f"{PROTOCOL}://{root}"


def fill_up() -> None:
    """From now on the disk is full: no write beyond what is there already."""
    QuotaFileSystem.quota = used_bytes(QuotaFileSystem.root_dir)


def env_for(root: str, quota: int) -> dict[str, str]:
    """Environment that makes a child process register the same full disk (see the module doc)."""
    path = os.environ.get("PYTHONPATH")
    return {
        "PYTHONPATH": SITE_DIR + (os.pathsep + path if path else ""),
        ENV_QUOTA: str(quota),
        ENV_ROOT: root,
    }
