"""The evaluation protocol of a run: kNN and linear probe, trained trunk vs random init."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from torch import nn

from seer.trainer.evaluation.features import extract_features
from seer.trainer.evaluation.knn import knn_top1
from seer.trainer.evaluation.linear_probe import linear_probe_top1


@dataclass(frozen=True)
class ProbeScores:
    knn_top1: float
    linear_top1: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def evaluate_trunk(
    trunk: nn.Module,
    train: Any,
    test: Any,
    *,
    knn_k: int,
    linear_epochs: int,
    seed: int = 0,
) -> ProbeScores:
    """Score ``trunk`` with both probes. ``train``/``test`` have ``images`` and ``labels``
    (``seer.trainer.data.LabelledImages``)."""
    ftr = extract_features(trunk, train.images)
    fte = extract_features(trunk, test.images)
    return ProbeScores(
        knn_top1=knn_top1(ftr, train.labels, fte, test.labels, k=knn_k),
        linear_top1=linear_probe_top1(ftr, train.labels, fte, test.labels, epochs=linear_epochs, seed=seed),
    )


def compare_with_random_init(
    trained: nn.Module,
    random_init: nn.Module | None,
    train: Any,
    test: Any,
    *,
    knn_k: int,
    linear_epochs: int,
    seed: int = 0,
) -> dict[str, Mapping[str, float]]:
    out: dict[str, Mapping[str, float]] = {
        "ssl": evaluate_trunk(trained, train, test, knn_k=knn_k, linear_epochs=linear_epochs, seed=seed).to_dict()
    }
    if random_init is not None:
        out["random_init"] = evaluate_trunk(
            random_init, train, test, knn_k=knn_k, linear_epochs=linear_epochs, seed=seed
        ).to_dict()
    return out
