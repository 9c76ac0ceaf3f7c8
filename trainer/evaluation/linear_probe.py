"""Linear probe: a logistic-regression layer on frozen, standardised features."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_probe_top1(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    epochs: int = 100,
    lr: float = 0.1,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    seed: int = 0,
) -> float:
    """Top-1 accuracy (0..1) of a linear classifier fitted with SGD + cosine LR.

    Features are standardised with the training split's statistics, so the same
    hyper-parameters suit a trained and an untrained trunk (a fair comparison).
    """
    gen = torch.Generator().manual_seed(seed)
    mean, std = train_features.mean(0, keepdim=True), train_features.std(0, keepdim=True).clamp_min(1e-6)
    xtr, xte = (train_features - mean) / std, (test_features - mean) / std
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    layer = torch.nn.Linear(xtr.shape[1], classes)
    opt = torch.optim.SGD(layer.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    steps_per_epoch = max(1, (len(xtr) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), batch_size):
            j = perm[i : i + batch_size]
            loss = F.cross_entropy(layer(xtr[j]), train_labels[j])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        return float((layer(xte).argmax(1) == test_labels).float().mean())
