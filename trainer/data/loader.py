"""The training data loader: global-position batches, decoded and multi-cropped.

``build_loader`` lists the samples once and returns a ``Loader``; iterating it
yields one ``Batch`` per step for this rank, from ``(epoch, start_position)``
to the end of ``end_epoch - 1``.  Each DataLoader item is a whole batch, built
by one worker (workers take batches round-robin; the DataLoader returns them
in order), so the worker count never changes what a rank sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from .dataset_index import IndexedSamples
from .decode import DecodeError, decode_rgb, report_corrupt
from .multicrop import multicrop as multicrop_batch
from .multicrop_config import MultiCropConfig
from .sharding import (
    EpochOrder,
    RankBatch,
    global_batch_size,
    rank_batch,
    steps_per_epoch,
    steps_remaining,
    validate_split,
)
from .sources import SampleIndex, SourceFormat, list_samples

#: A sample table the loader reads from: listed in-process, or addressed through a prebuilt index.
Samples = SampleIndex | IndexedSamples

__all__ = ["Batch", "Loader", "build_loader", "load_batch"]

#: What stands in for a batch in which no image decodes (rare; keeps shapes fixed).
_PLACEHOLDER_SIDE = 8


@dataclass
class Batch:
    """One rank's batch of one step.

    ``crops``: one float32 tensor ``[b, 3, s, s]`` per crop, in crop order.
    ``indices``: global sample indices the batch covers (int64 ``[b]``).
    ``epoch`` / ``position_after``: the data state to checkpoint after this
    step (the global position once all ranks consumed this global batch).
    ``step_in_epoch``: 0-based step within the epoch (after a world-size
    change it counts steps of the current global batch size).
    ``corrupt``: samples of this batch that could not be read or decoded; each
    was replaced by another image of the same batch (cropped with the missing
    sample's own randomness), so shapes stay fixed.
    """

    crops: list[torch.Tensor]
    indices: torch.Tensor
    epoch: int
    step_in_epoch: int
    position_after: int
    corrupt: int

    def pin_memory(self) -> "Batch":
        """Called by the DataLoader's pin-memory thread (``pin_memory=True``)."""
        return Batch(
            crops=[c.pin_memory() for c in self.crops],
            indices=self.indices,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            position_after=self.position_after,
            corrupt=self.corrupt,
        )

    def to(self, device: torch.device | str, non_blocking: bool = True) -> "Batch":
        """The same batch with its crops on ``device``."""
        return Batch(
            crops=[c.to(device, non_blocking=non_blocking) for c in self.crops],
            indices=self.indices,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            position_after=self.position_after,
            corrupt=self.corrupt,
        )


def _read_images(
    samples: Samples, indices: np.ndarray, encoded: list[bytes | BaseException] | None = None
) -> tuple[list[torch.Tensor], int]:
    """Decode the batch's samples (read together unless ``encoded`` is given);
    unreadable ones borrow the next readable image."""
    images: list[torch.Tensor | None] = []
    if encoded is None:
        encoded = samples.read_many(indices)
    for i, data in zip(indices.tolist(), encoded, strict=True):
        if isinstance(data, BaseException):  # missing/unreadable after retries: counted like a corrupt image
            report_corrupt(samples.url(i), f"read failed: {data!r}")
            images.append(None)
            continue
        try:
            images.append(decode_rgb(data))
        except DecodeError as err:
            report_corrupt(samples.url(i), str(err))
            images.append(None)
    bad = sum(im is None for im in images)
    if bad == len(images):
        # Nothing to borrow from: mid-gray placeholders keep the step alive.
        gray = torch.full((3, _PLACEHOLDER_SIDE, _PLACEHOLDER_SIDE), 128, dtype=torch.uint8)
        return [gray] * len(images), bad
    n = len(images)
    filled: list[torch.Tensor] = []
    for k, im in enumerate(images):
        j = k
        while im is None:
            j = (j + 1) % n
            im = images[j]
        filled.append(im)
    return filled, bad


def load_batch(
    samples: Samples,
    rank_batch: RankBatch,
    cfg: MultiCropConfig,
    *,
    seed: int,
    epoch: int,
    step_in_epoch: int = 0,
    encoded: list[bytes | BaseException] | None = None,
) -> Batch:
    """Read, decode and multi-crop one rank batch (what a loader worker runs).

    ``encoded``: the batch's bytes when already read (by the read-ahead).
    """
    images, corrupt = _read_images(samples, rank_batch.indices, encoded)
    crops = multicrop_batch(images, rank_batch.indices, cfg, seed=seed, epoch=epoch)
    return Batch(
        crops=crops,
        indices=torch.from_numpy(np.array(rank_batch.indices, dtype=np.int64)),
        epoch=epoch,
        step_in_epoch=step_in_epoch,
        position_after=rank_batch.position_after,
        corrupt=corrupt,
    )


class _EpochBatches(Dataset[Batch]):
    """Map-style dataset whose item ``j`` is this rank's ``j``-th remaining batch."""

    def __init__(
        self,
        samples: Samples,
        cfg: MultiCropConfig,
        *,
        seed: int,
        epoch: int,
        position: int,
        world_size: int,
        per_rank_batch: int,
        rank: int,
    ) -> None:
        self.samples, self.cfg, self.seed, self.epoch = samples, cfg, seed, epoch
        # Lazy: batch j is computed when a worker asks for it (O(batch) memory, any N).
        validate_split(len(samples), position, world_size, per_rank_batch, rank)
        self.order = EpochOrder(len(samples), seed, epoch)
        self.position, self.world_size, self.per_rank_batch, self.rank = position, world_size, per_rank_batch, rank
        self.num_batches = steps_remaining(len(samples), position, world_size, per_rank_batch)
        self.first_step = position // global_batch_size(world_size, per_rank_batch)
        self.read_ahead = _ReadAhead()

    def __len__(self) -> int:
        return self.num_batches

    def batch_plan(self, j: int) -> RankBatch:
        """This rank's ``j``-th remaining batch (which samples, and the position after it)."""
        if not 0 <= j < self.num_batches:
            raise IndexError(f"batch {j} is outside [0, {self.num_batches})")
        return rank_batch(self.order, self.position, self.world_size, self.per_rank_batch, self.rank, j)

    def __getitem__(self, j: int) -> Batch:
        plan = self.batch_plan(j)
        encoded = self.read_ahead.take(j, lambda: self.samples.read_many(plan.indices))
        # The DataLoader gives this worker batch j + num_workers next: read it while this one decodes.
        info = get_worker_info()
        following = j + (info.num_workers if info is not None else 1)
        if following < self.num_batches:
            indices = self.batch_plan(following).indices
            self.read_ahead.start(following, lambda: self.samples.read_many(indices))
        return load_batch(
            self.samples,
            plan,
            self.cfg,
            seed=self.seed,
            epoch=self.epoch,
            step_in_epoch=self.first_step + j,
            encoded=encoded,
        )


class _ReadAhead:
    """The next batch's reads, running in a daemon thread while the current batch decodes.

    At most one read runs at a time (``take`` waits for it before the next
    ``start``), so the sample table's caches are never used from two threads.
    Per process: never pickled with its pending read.
    """

    def __init__(self) -> None:
        self._pending: dict[int, Future[list[bytes | BaseException]]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"_pending": {}}

    def take(self, key: int, read: Callable[[], list[bytes | BaseException]]) -> list[bytes | BaseException]:
        future = self._pending.pop(key, None)
        for stale in self._pending.values():  # out-of-order access: finish what runs, drop it
            stale.exception()
        self._pending.clear()
        return future.result() if future is not None else read()

    def start(self, key: int, read: Callable[[], list[bytes | BaseException]]) -> None:
        future: Future[list[bytes | BaseException]] = Future()

        def run() -> None:
            try:
                future.set_result(read())
            except BaseException as err:  # surfaces in take(), in the worker's own thread
                future.set_exception(err)

        threading.Thread(target=run, name="seer-read-ahead", daemon=True).start()
        self._pending[key] = future


def _worker_init(_: int) -> None:
    # Workers share 1-2 cores with the training processes: one thread each.
    torch.set_num_threads(1)


def _identity(batch: Batch) -> Batch:
    return batch


class Loader:
    """Iterable over this rank's batches; see ``build_loader``."""

    def __init__(
        self,
        samples: Samples,
        cfg: MultiCropConfig,
        *,
        per_rank_batch: int,
        rank: int,
        world_size: int,
        workers: int,
        prefetch_factor: int,
        seed: int,
        epoch: int,
        start_position: int,
        end_epoch: int | None,
        pin_memory: bool,
        multiprocessing_context: str | None,
    ) -> None:
        validate_split(len(samples), start_position, world_size, per_rank_batch, rank)
        if steps_per_epoch(len(samples), world_size, per_rank_batch) == 0:
            raise ValueError(
                f"the dataset has {len(samples)} samples, fewer than one global batch of "
                f"{world_size} ranks x {per_rank_batch}; add data or lower the batch size"
            )
        if end_epoch is not None and end_epoch <= epoch:
            raise ValueError(f"epochs must be >= 1, got {end_epoch - epoch}")
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.samples, self.cfg = samples, cfg
        self.per_rank_batch, self.rank, self.world_size = per_rank_batch, rank, world_size
        self.workers, self.prefetch_factor = workers, prefetch_factor
        self.seed, self.epoch, self.start_position, self.end_epoch = seed, epoch, start_position, end_epoch
        self.pin_memory, self.multiprocessing_context = pin_memory, multiprocessing_context

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    @property
    def steps_per_epoch(self) -> int:
        """Steps of a full epoch (the partial last global batch is dropped)."""
        return steps_per_epoch(len(self.samples), self.world_size, self.per_rank_batch)

    def __len__(self) -> int:
        """Steps this loader yields (only defined when ``end_epoch`` is set)."""
        if self.end_epoch is None:
            raise TypeError("an endless Loader (epochs=None) has no length")
        first = (len(self.samples) - self.start_position) // global_batch_size(self.world_size, self.per_rank_batch)
        return first + (self.end_epoch - self.epoch - 1) * self.steps_per_epoch

    def epoch_loader(self, epoch: int, position: int) -> DataLoader[Batch]:
        """The torch DataLoader of one epoch from ``position`` (advanced use)."""
        dataset = _EpochBatches(
            self.samples,
            self.cfg,
            seed=self.seed,
            epoch=epoch,
            position=position,
            world_size=self.world_size,
            per_rank_batch=self.per_rank_batch,
            rank=self.rank,
        )
        kwargs: dict[str, Any] = {}
        if self.workers > 0:
            kwargs.update(
                prefetch_factor=self.prefetch_factor,
                worker_init_fn=_worker_init,
                multiprocessing_context=self.multiprocessing_context,
            )
        return DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            collate_fn=_identity,
            pin_memory=self.pin_memory,
            **kwargs,
        )

    def __iter__(self) -> Iterator[Batch]:
        epoch, position = self.epoch, self.start_position
        while self.end_epoch is None or epoch < self.end_epoch:
            yield from self.epoch_loader(epoch, position)
            epoch, position = epoch + 1, 0


def build_loader(
    urls: str | Sequence[str] | SampleIndex | IndexedSamples,
    *,
    multicrop: MultiCropConfig,
    per_rank_batch: int,
    rank: int = 0,
    world_size: int = 1,
    storage_options: Mapping[str, Any] | None = None,
    format: SourceFormat = "auto",
    workers: int = 0,
    prefetch_factor: int = 2,
    seed: int = 0,
    epoch: int = 0,
    start_position: int = 0,
    epochs: int | None = 1,
    pin_memory: bool = False,
    index_cache_dir: str | None = None,
    multiprocessing_context: str | None = None,
) -> Loader:
    """Build this rank's loader, resuming at ``(epoch, start_position)``.

    ``urls`` may be an already listed ``SampleIndex`` (list once, build many) or
    the ``IndexedSamples`` of a prebuilt index (``samples_from_spec``).
    Iterating yields ``Batch`` objects for ``epochs`` epochs starting with
    ``epoch`` (default 1: the rest of ``epoch`` only; ``None``: endless, the
    epoch advances on its own and a new DataLoader starts for each).
    Checkpoint ``(batch.epoch, batch.position_after)`` after each step; on
    resume pass them back as ``epoch`` / ``start_position``, with any world
    size: the rest of the epoch is covered exactly once.  A position at the
    very end of an epoch yields nothing for that epoch and moves on.
    """
    samples = (
        urls
        if isinstance(urls, SampleIndex | IndexedSamples)
        else list_samples(urls, storage_options=storage_options, format=format, index_cache_dir=index_cache_dir)
    )
    return Loader(
        samples,
        multicrop,
        per_rank_batch=per_rank_batch,
        rank=rank,
        world_size=world_size,
        workers=workers,
        prefetch_factor=prefetch_factor,
        seed=seed,
        epoch=epoch,
        start_position=start_position,
        end_epoch=None if epochs is None else epoch + epochs,
        pin_memory=pin_memory,
        multiprocessing_context=multiprocessing_context,
    )
