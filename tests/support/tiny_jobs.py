"""The tiny SeerJob pieces the tests share: one small RegNetY + SwAV shape and a deep merge.

Tests that train for real (seerctl end to end, the recovery tests, a scraped worker, one
train step) all want the same few-millisecond model; it is written once here so a change to
the spec's model or SwAV fields is made in one place. Every call returns a fresh copy, so a
test may mutate what it gets.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: A RegNetY of two blocks, eight channels wide, with a 32 -> 16 projection head.
TINY_MODEL: dict[str, Any] = {
    "variant": None,
    "design": {"depth": 2, "w0": 8, "wa": 8.0, "wm": 2.0, "groupWidth": 8, "stemWidth": 8},
    "head": {"hiddenDim": 32, "outputDim": 16},
}

#: SwAV with ten prototypes and two 16 px + two 8 px crops.
TINY_SWAV: dict[str, Any] = {
    "numPrototypes": 10,
    "crops": {"sizes": [16, 8], "counts": [2, 2], "minScale": [0.3, 0.1], "maxScale": [1.0, 0.3]},
    "freezePrototypesSteps": 0,
}


def deep_merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in (nested dicts merged, everything else replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def tiny_spec(**sections: Any) -> dict[str, Any]:
    """A ``spec`` with the tiny model and SwAV; ``sections`` (camelCase spec sections) merge in."""
    return deep_merge({"model": TINY_MODEL, "swav": TINY_SWAV}, sections)
