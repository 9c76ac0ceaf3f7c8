"""Does the trunk see anything? kNN and linear probes on frozen features.

The standard SSL protocol: fit on a labelled split, score on a held-out split, and
compare with the same network at random initialisation — an untrained convnet is a
surprisingly strong baseline on small images, so only the *gap* says that SwAV
learned something.
"""

from seer.trainer.evaluation.features import extract_features
from seer.trainer.evaluation.knn import knn_top1
from seer.trainer.evaluation.linear_probe import linear_probe_top1
from seer.trainer.evaluation.protocol import ProbeScores, evaluate_trunk

__all__ = ["ProbeScores", "evaluate_trunk", "extract_features", "knn_top1", "linear_probe_top1"]
