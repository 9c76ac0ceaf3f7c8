"""Weighted kNN classifier on L2-normalised features (Wu et al., 2018; as in DINO/SwAV evals)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
) -> torch.Tensor:
    """Predicted labels for ``test_features``: each of the k nearest training samples
    (cosine similarity) votes for its label with weight ``exp(sim / temperature)``."""
    if len(train_features) == 0:
        raise ValueError("kNN needs at least one training sample")
    classes = num_classes or int(train_labels.max()) + 1
    k = min(k, len(train_features))
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1)
    sims, idx = (test @ train.T).topk(k, dim=1)
    weights = (sims / temperature).exp()
    votes = torch.zeros(len(test), classes, dtype=weights.dtype)
    votes.scatter_add_(1, train_labels[idx], weights)
    return votes.argmax(dim=1)


def knn_top1(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    k: int = 20,
) -> float:
    """Top-1 accuracy (0..1) of :func:`knn_predict`."""
    pred = knn_predict(train_features, train_labels, test_features, k=k)
    return float((pred == test_labels).float().mean())
