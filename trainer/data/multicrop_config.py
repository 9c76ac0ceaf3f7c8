"""``MultiCropConfig``: what the multi-crop augmentation does (validated, frozen)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "MultiCropConfig"]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True, kw_only=True)
class MultiCropConfig:
    """Multi-crop augmentation as in SwAV.

    Crop groups: group ``g`` yields ``counts[g]`` crops of ``sizes[g]`` px from a
    random resized crop covering ``[min_scale[g], max_scale[g]]`` of the image
    area.  Crops are numbered in output order (all of group 0 first); the crop
    number seeds that crop's randomness.  The probabilities and the colour
    strength default to SwAV's published values (colour jitter 0.8*s for
    brightness/contrast/saturation and 0.2*s for hue, applied with p=0.8;
    grayscale p=0.2; blur p=0.5 with sigma in [0.1, 2.0] px of the crop).
    The job spec sets the crop geometry; it is required here on purpose.
    """

    sizes: tuple[int, ...]
    counts: tuple[int, ...]
    min_scale: tuple[float, ...]
    max_scale: tuple[float, ...]
    flip_prob: float = 0.5
    jitter_strength: float = 1.0
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2
    blur_prob: float = 0.5
    solarize_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    aspect_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        groups = len(self.sizes)
        if groups == 0:
            raise ValueError("MultiCropConfig needs at least one crop group (sizes is empty)")
        for name in ("counts", "min_scale", "max_scale"):
            if len(getattr(self, name)) != groups:
                raise ValueError(
                    f"MultiCropConfig.{name} has {len(getattr(self, name))} entries, "
                    f"sizes has {groups}: give one per crop group"
                )
        for g in range(groups):
            if self.sizes[g] < 2 or self.counts[g] < 1:
                raise ValueError(f"crop group {g}: size must be >= 2 and count >= 1")
            if not 0.0 < self.min_scale[g] <= self.max_scale[g] <= 1.0:
                raise ValueError(
                    f"crop group {g}: need 0 < min_scale <= max_scale <= 1, "
                    f"got {self.min_scale[g]}, {self.max_scale[g]}"
                )
        for name in ("flip_prob", "jitter_prob", "grayscale_prob", "blur_prob", "solarize_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"MultiCropConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.jitter_strength <= 2.5:
            raise ValueError(
                f"jitter_strength must be in [0, 2.5] (hue shift 0.2*s <= 0.5), got {self.jitter_strength}"
            )
        if not 0.0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must be 0 < lo <= hi, got {self.blur_sigma}")
        if not 0.0 < self.aspect_ratio[0] <= self.aspect_ratio[1]:
            raise ValueError(f"aspect_ratio must be 0 < lo <= hi, got {self.aspect_ratio}")

    @property
    def num_crops(self) -> int:
        """Total crops per image, over all groups."""
        return sum(self.counts)

    def crop_sizes(self) -> list[int]:
        """Output size of every crop in output order."""
        return [s for s, c in zip(self.sizes, self.counts, strict=False) for _ in range(c)]
