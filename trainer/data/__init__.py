"""Training and evaluation data for Seer (see README.md in this folder).

Public API, what the training loop calls::

    loader = build_loader(urls, multicrop=MultiCropConfig(...), per_rank_batch=b,
                          rank=r, world_size=w, epoch=e, start_position=p, ...)
    for batch in loader:          # Batch(crops, indices, epoch, step_in_epoch,
        ...                       #       position_after, corrupt)
        checkpoint (batch.epoch, batch.position_after)

Everything else here is importable for tests and tools, but the names below
are the supported surface.
"""

from .decode import DecodeError, decode_rgb
from .digits import materialize_digits, materialize_digits_webdataset
from .image_folder import LabelledImages, load_image_folder
from .loader import Batch, Loader, build_loader, load_batch
from .multicrop import multicrop
from .multicrop_config import IMAGENET_MEAN, IMAGENET_STD, MultiCropConfig
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

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Batch",
    "DecodeError",
    "LabelledImages",
    "Loader",
    "MultiCropConfig",
    "RankBatch",
    "SampleIndex",
    "SourceFormat",
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
    "steps_per_epoch",
    "steps_remaining",
    "worker_batch_numbers",
]
