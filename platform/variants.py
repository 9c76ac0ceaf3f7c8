"""Named RegNetY design-space points: the single registry of model variant names.

Lives in ``seer.platform`` (not the trainer) because the job spec validates variant
names against it and the platform must not import the trainer. The trainer builds
networks from these numbers (``seer.trainer.models``).

Sources: pycls ``configs/dds_baselines/regnety`` (RegNetY-200MF ... 32GF) and the
SEER papers (128GF, 256GF, 10B). Invariant: every entry's parameters, fed to the
design-space generator, reproduce the published parameter count in
``published_params_with_fc`` (1000-class fc) within 0.5%.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RegNetDesign:
    """One point of the RegNet design space (Radosavovic et al., 2020).

    depth: total number of blocks; w0: initial width; wa: width slope;
    wm: width multiplier (quantisation base); group_width: channels per group of the
    3x3 conv; se_ratio: squeeze-excitation width as a share of the block's input
    width (0 disables SE, i.e. RegNetX); stem_width: channels of the 3x3/2 stem;
    bottleneck_ratio: 1.0 for RegNetY.
    """

    depth: int
    w0: int
    wa: float
    wm: float
    group_width: int
    se_ratio: float = 0.25
    stem_width: int = 32
    bottleneck_ratio: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Variant:
    """A named design with what is published about it."""

    name: str
    design: RegNetDesign
    published_params_with_fc: float | None  # millions, pycls / SEER, 1000-class fc
    source: str


_V = Variant
_D = RegNetDesign

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _V(
            name="regnety_200mf",
            design=_D(depth=13, w0=24, wa=36.44, wm=2.49, group_width=8),
            published_params_with_fc=3.16,
            source="pycls",
        ),
        _V(
            name="regnety_400mf",
            design=_D(depth=16, w0=48, wa=27.89, wm=2.09, group_width=8),
            published_params_with_fc=4.34,
            source="pycls",
        ),
        _V(
            name="regnety_800mf",
            design=_D(depth=14, w0=56, wa=38.84, wm=2.4, group_width=16),
            published_params_with_fc=6.26,
            source="pycls",
        ),
        _V(
            name="regnety_1.6gf",
            design=_D(depth=27, w0=48, wa=20.71, wm=2.65, group_width=24),
            published_params_with_fc=11.20,
            source="pycls",
        ),
        _V(
            name="regnety_3.2gf",
            design=_D(depth=21, w0=80, wa=42.63, wm=2.66, group_width=24),
            published_params_with_fc=19.44,
            source="pycls",
        ),
        _V(
            name="regnety_8gf",
            design=_D(depth=17, w0=192, wa=76.82, wm=2.19, group_width=56),
            published_params_with_fc=39.18,
            source="pycls",
        ),
        _V(
            name="regnety_16gf",
            design=_D(depth=18, w0=200, wa=106.23, wm=2.48, group_width=112),
            published_params_with_fc=83.59,
            source="pycls",
        ),
        _V(
            name="regnety_32gf",
            design=_D(depth=20, w0=232, wa=115.89, wm=2.53, group_width=232),
            published_params_with_fc=145.05,
            source="pycls",
        ),
        _V(
            name="regnety_128gf",
            design=_D(depth=27, w0=456, wa=160.83, wm=2.52, group_width=264),
            published_params_with_fc=None,
            source="SEER (Goyal et al., 2021)",
        ),
        _V(
            name="regnety_256gf",
            design=_D(depth=27, w0=640, wa=230.83, wm=2.53, group_width=373),
            published_params_with_fc=1280.0,
            source="SEER (Goyal et al., 2021)",
        ),
        _V(
            name="regnety_10b",
            design=_D(depth=27, w0=1744, wa=620.83, wm=2.52, group_width=1010),
            published_params_with_fc=None,
            source="SEER (Goyal et al., 2022)",
        ),
    )
}


def variant_names() -> list[str]:
    """Valid values of ``spec.model.variant``, smallest model first."""
    return list(VARIANTS)
