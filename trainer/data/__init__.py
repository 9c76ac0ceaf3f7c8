"""Training and evaluation data for Seer (see README.md in this folder).

Public API, what the training loop calls::

    samples = samples_from_spec(job.spec.data, storage_options)   # prebuilt index, else listed here
    loader = build_loader(samples, multicrop=MultiCropConfig(...), per_rank_batch=b,
                          rank=r, world_size=w, epoch=e, start_position=p, ...)
    for batch in loader:          # Batch(crops, indices, epoch, step_in_epoch,
        ...                       #       position_after, corrupt)
        checkpoint (batch.epoch, batch.position_after)

Everything else here is importable for tests and tools, but the names below
are the supported surface.
"""

from importlib import import_module
from typing import Any

from .dataset_index import IndexedSamples, StaleIndexError, build_index, samples_from_spec
from .permutation import EpochOrder
from .sharding import (
    RankBatch,
    epoch_order,
    global_batch_size,
    rank_batches,
    steps_per_epoch,
    steps_remaining,
    worker_batch_numbers,
)
from .sources import SampleIndex, SourceFormat, list_samples

# Names whose modules import torch load on first use, so that torch-free tools
# (``python -m seer.trainer.data index``, the coordinator) never import torch.
_LAZY = {
    "DecodeError": "decode",
    "decode_rgb": "decode",
    "materialize_digits": "digits",
    "materialize_digits_webdataset": "digits",
    "LabelledImages": "image_folder",
    "load_image_folder": "image_folder",
    "Batch": "loader",
    "Loader": "loader",
    "build_loader": "loader",
    "load_batch": "loader",
    "multicrop": "multicrop",
    "IMAGENET_MEAN": "multicrop_config",
    "IMAGENET_STD": "multicrop_config",
    "MultiCropConfig": "multicrop_config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Batch",
    "DecodeError",
    "EpochOrder",
    "IndexedSamples",
    "LabelledImages",
    "Loader",
    "MultiCropConfig",
    "RankBatch",
    "SampleIndex",
    "SourceFormat",
    "StaleIndexError",
    "build_index",
    "build_loader",
    "decode_rgb",
    "epoch_order",
    "global_batch_size",
    "list_samples",
    "load_batch",
    "load_image_folder",
    "materialize_digits",
    "materialize_digits_webdataset",
    "multicrop",
    "rank_batches",
    "samples_from_spec",
    "steps_per_epoch",
    "steps_remaining",
    "worker_batch_numbers",
]
