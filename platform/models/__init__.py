"""Torch-free RegNet math: the design-space generator, analytic parameter/FLOP counts,
the per-GPU memory estimate and the parallelism decision built on them.

Lives in the platform (beside ``seer.platform.variants``) so that ``seerctl models`` and
spec validation can size a job without importing torch or the trainer; the trainer
builds its networks from the same numbers (``seer.trainer.models``).
"""

from seer.platform.models.catalog import describe_variants
from seer.platform.models.complexity import Complexity, complexity, trunk_flops
from seer.platform.models.design import StageSpec, stages

__all__ = ["Complexity", "StageSpec", "complexity", "describe_variants", "stages", "trunk_flops"]
