"""RegNet models: design-space generator, networks, analytic complexity, variant table.

Knows nothing about FSDP or SwAV (see ``seer.trainer.parallel`` and ``seer.trainer.swav``).
"""

from seer.trainer.models.catalog import describe_variants
from seer.trainer.models.complexity import Complexity, complexity, trunk_flops
from seer.trainer.models.design import StageSpec, stages
from seer.trainer.models.regnet import (
    RegNetClassifier,
    RegNetTrunk,
    ResBottleneckBlock,
    Stage,
    build_classifier,
    build_trunk,
    init_weights_,
    resolve_design,
)

__all__ = [
    "Complexity",
    "RegNetClassifier",
    "RegNetTrunk",
    "ResBottleneckBlock",
    "Stage",
    "StageSpec",
    "build_classifier",
    "build_trunk",
    "complexity",
    "describe_variants",
    "init_weights_",
    "resolve_design",
    "stages",
    "trunk_flops",
]
