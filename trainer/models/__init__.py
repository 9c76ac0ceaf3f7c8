"""RegNet models in torch; the torch-free design-space and complexity math they are built
from lives in ``seer.platform.models`` and is re-exported here.

Knows nothing about FSDP or SwAV (see ``seer.trainer.parallel`` and ``seer.trainer.swav``).
"""

from seer.platform.models import Complexity, StageSpec, complexity, describe_variants, stages, trunk_flops
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
