"""Swapped prediction loss equals a direct loop re-computation (SwAV main_swav.py)."""

import pytest
import torch
import torch.nn.functional as F

from seer.trainer.swav import swapped_prediction_loss


def _loop_loss(scores, codes, num_crops, crops_for_assign, temperature):
    b = scores.shape[0] // num_crops
    loss = 0.0
    for i, a in enumerate(crops_for_assign):
        sub = 0.0
        for v in range(num_crops):
            if v == a:
                continue
            for n in range(b):
                logp = F.log_softmax(scores[v * b + n] / temperature, dim=0)
                sub = sub - (codes[i, n] * logp).sum() / b
        loss = loss + sub / (num_crops - 1)
    return loss / len(crops_for_assign)


@pytest.mark.parametrize("num_crops,assign", [(2, [0, 1]), (6, [0, 1]), (4, [2])])
def test_loss_and_gradient_match_the_loop_over_crops_and_samples(num_crops, assign) -> None:
    torch.manual_seed(0)
    b, k = 5, 7
    s1 = torch.randn(num_crops * b, k, requires_grad=True)
    s2 = s1.detach().clone().requires_grad_(True)
    codes = torch.softmax(torch.randn(len(assign), b, k), dim=-1)
    fast = swapped_prediction_loss(s1, codes, num_crops=num_crops, crops_for_assign=assign, temperature=0.1)
    slow = _loop_loss(s2, codes, num_crops, assign, 0.1)
    torch.testing.assert_close(fast, slow)
    fast.backward()
    slow.backward()
    torch.testing.assert_close(s1.grad, s2.grad)


def test_shape_mismatch_is_reported() -> None:
    with pytest.raises(ValueError, match="codes shape"):
        swapped_prediction_loss(
            torch.zeros(6, 3), torch.zeros(1, 2, 3), num_crops=2, crops_for_assign=[0], temperature=0.1
        )
