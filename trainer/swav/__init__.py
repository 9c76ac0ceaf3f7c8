"""SwAV (Caron et al., 2020): head, multi-crop model, Sinkhorn, swapped loss, queue.

Typical step (see ``SwAVObjective``)::

    head.normalize_prototypes_()              # before the forward
    loss = objective(model, crops, epoch=epoch)
    loss.backward()
    drop_frozen_prototype_grads_(head, iteration=step, freeze_iterations=n)
    optimizer.step()
"""

from seer.trainer.swav.head import SwAVHead, drop_frozen_prototype_grads_
from seer.trainer.swav.loss import swapped_prediction_loss
from seer.trainer.swav.model import SwAVModel, SwAVOutput, resolution_groups
from seer.trainer.swav.objective import SwAVObjective
from seer.trainer.swav.queue import FeatureQueue
from seer.trainer.swav.sinkhorn import sinkhorn, sinkhorn_reference

__all__ = [
    "FeatureQueue",
    "SwAVHead",
    "SwAVModel",
    "SwAVObjective",
    "SwAVOutput",
    "drop_frozen_prototype_grads_",
    "resolution_groups",
    "sinkhorn",
    "sinkhorn_reference",
    "swapped_prediction_loss",
]
