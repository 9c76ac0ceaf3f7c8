"""Labelled image folders for evaluation: ``<root>/<class_name>/<file>`` -> tensors.

Used by the kNN and linear-probe evaluations on frozen features.  Images are
resized (shorter side to ``size``, bilinear with antialias), centre-cropped to
``size`` x ``size`` and normalised like the training crops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import torch
import torch.nn.functional as F

from .decode import decode_rgb
from .multicrop_config import IMAGENET_MEAN, IMAGENET_STD
from .tar_index import IMAGE_EXTENSIONS
from .tensor_ops import normalize_

__all__ = ["LabelledImages", "load_image_folder", "resize_center_crop"]


@dataclass(frozen=True)
class LabelledImages:
    """``images[i]`` (float32 ``[3, size, size]``, normalised) has label ``labels[i]``,
    the position of its class name in ``classes``; ``urls[i]`` is its file."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    urls: tuple[str, ...]


def resize_center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """``uint8 [3, H, W]`` -> float ``[3, size, size]`` in [0, 1]: shorter side to
    ``size``, then the centre square."""
    _, h, w = image.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = image[None].float()
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - size) // 2, (nw - size) // 2
    return (x[0, :, top : top + size, left : left + size] / 255.0).clamp_(0.0, 1.0)


def load_image_folder(
    root: str,
    *,
    size: int,
    storage_options: Mapping[str, Any] | None = None,
    classes: Sequence[str] | None = None,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> LabelledImages:
    """Read every image under ``root/<class>/`` (any depth below the class folder).

    ``classes`` fixes the label numbering (pass the train split's classes when
    loading the test split); by default it is the sorted class folder names.
    Files are read in sorted order, so the result is deterministic.  A corrupt
    file is an error here: evaluation sets are small and curated.
    """
    fs, path = fsspec.core.url_to_fs(root, **dict(storage_options or {}))
    base = path.rstrip("/") + "/"
    by_class: dict[str, list[str]] = {}
    for p in sorted(fs.find(path)):
        rel = p[len(base) :] if p.startswith(base) else p
        parts = rel.split("/")
        if len(parts) < 2 or any(s.startswith(".") for s in parts):
            continue
        if p.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS:
            by_class.setdefault(parts[0], []).append(p)
    names = tuple(classes) if classes is not None else tuple(sorted(by_class))
    unknown = sorted(set(by_class) - set(names))
    if unknown:
        raise ValueError(f"{root} has class folders {unknown} that are not in classes={list(names)}")
    if not by_class:
        raise ValueError(f"{root} holds no images in <class>/<file> folders")
    images, labels, urls = [], [], []
    for label, name in enumerate(names):
        for p in by_class.get(name, []):
            url = fs.unstrip_protocol(p)
            try:
                images.append(resize_center_crop(decode_rgb(fs.cat_file(p)), size))
            except ValueError as err:
                raise ValueError(f"cannot read evaluation image {url}: {err}") from err
            labels.append(label)
            urls.append(url)
    stacked = normalize_(torch.stack(images), mean, std)
    return LabelledImages(
        images=stacked, labels=torch.tensor(labels, dtype=torch.int64), classes=names, urls=tuple(urls)
    )
