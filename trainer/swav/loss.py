"""The swapped-prediction loss over all crop pairs (SwAV ``main_swav.py`` semantics).

loss = mean over assignment crops a of  mean over crops v != a of
       mean over samples of  -sum_k q_a[b, k] * log softmax(scores_v[b] / T)_k
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def swapped_prediction_loss(
    scores: torch.Tensor,
    codes: torch.Tensor,
    *,
    num_crops: int,
    crops_for_assign: Sequence[int],
    temperature: float,
) -> torch.Tensor:
    """scores ``[V*B, K]`` (with grad; crop-major rows), codes ``[A, B, K]`` (no grad,
    codes[i] for crop ``crops_for_assign[i]``). Returns a scalar float32 loss.

    Vectorised: one log-softmax over all rows, then with S = sum_v logp_v each
    assignment crop costs one product: sum over v != a is S - logp_a.
    """
    n, k = scores.shape
    if n % num_crops:
        raise ValueError(f"{n} score rows do not split into {num_crops} crops")
    b = n // num_crops
    a = len(crops_for_assign)
    if codes.shape != (a, b, k):
        raise ValueError(f"codes shape {tuple(codes.shape)} != {(a, b, k)}")
    logp = F.log_softmax(scores.float() / temperature, dim=1).view(num_crops, b, k)
    total = logp.sum(0)
    idx = torch.as_tensor(list(crops_for_assign), device=scores.device)
    others = total.unsqueeze(0) - logp.index_select(0, idx)  # [A, B, K]
    return -(codes * others).sum() / (b * (num_crops - 1) * a)
