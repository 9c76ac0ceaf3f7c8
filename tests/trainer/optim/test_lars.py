"""LARS: exclusions from adaptation and weight decay, the trust-ratio step itself."""

import pytest
import torch
from torch import nn

from seer.trainer.optim import LARS, is_lars_excluded, param_groups


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def test_param_groups_exclude_batchnorm_and_biases_only() -> None:
    net = _net()
    adapted, excluded = param_groups(net)
    assert not adapted["lars_exclude"] and excluded["lars_exclude"]
    assert {id(p) for p in adapted["params"]} == {id(net[0].weight), id(net[3].weight)}
    assert {id(p) for p in excluded["params"]} == {id(net[1].weight), id(net[1].bias), id(net[3].bias)}
    assert is_lars_excluded(net[3], "bias") and not is_lars_excluded(net[3], "weight")


def _grads(net: nn.Module) -> None:
    net(torch.randn(2, 3, 8, 8)).square().sum().backward()


def test_excluded_parameters_get_plain_sgd_without_weight_decay() -> None:
    net = _net()
    _grads(net)
    bn_w, bias = net[1].weight, net[3].bias
    expect = {p: (p.detach() - 0.1 * p.grad).clone() for p in (bn_w, bias)}
    LARS(param_groups(net), lr=0.1, momentum=0.9, weight_decay=0.5, trust_coefficient=0.001).step()
    for p, e in expect.items():
        torch.testing.assert_close(p.detach(), e)


@pytest.mark.parametrize("clip", [False, True])
def test_adapted_parameters_follow_the_larc_trust_ratio(clip: bool) -> None:
    net = _net()
    _grads(net)
    w = net[0].weight
    lr, wd, eta = 0.1, 1e-3, 0.02
    wn, gn = w.detach().norm(), w.grad.norm()
    local = eta * wn / (gn + wd * wn + 1e-8)
    scale = min(local / lr, 1.0) if clip else local
    expect = w.detach() - lr * scale * (w.grad + wd * w.detach())
    LARS(param_groups(net), lr=lr, momentum=0.9, weight_decay=wd, trust_coefficient=eta, clip=clip).step()
    torch.testing.assert_close(w.detach(), expect)


def test_momentum_accumulates_the_scaled_gradient() -> None:
    p = nn.Parameter(torch.ones(3))
    opt = LARS([{"params": [p], "lars_exclude": True}], lr=1.0, momentum=0.5)
    for _ in range(2):
        p.grad = torch.ones(3)
        opt.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 1.0 - 1.0 - 1.5))


def test_zero_weight_norm_falls_back_to_ratio_one() -> None:
    p = nn.Parameter(torch.zeros(3))
    p.grad = torch.ones(3)
    LARS([p], lr=0.1, momentum=0.0).step()
    torch.testing.assert_close(p.detach(), torch.full((3,), -0.1))


def _swav_like_net() -> nn.Module:
    from seer.trainer.models import build_trunk

    torch.manual_seed(1)
    return nn.Sequential(build_trunk("regnety_200mf"), nn.Linear(368, 16), nn.BatchNorm1d(16), nn.Linear(16, 8))


@pytest.mark.parametrize(
    ("clip", "weight_decay", "momentum"), [(False, 1e-6, 0.9), (True, 1e-4, 0.9), (False, 0.0, 0.0), (False, 0.0, 0.9)]
)
def test_multi_tensor_update_equals_the_per_tensor_reference(clip: bool, weight_decay: float, momentum: float) -> None:
    """Five steps of the foreach LARS give bit-identical parameters and momentum buffers to
    the per-tensor loop, with changing learning rates and one parameter without a grad."""
    nets = [_swav_like_net() for _ in range(2)]
    opts = [
        LARS(param_groups(n), lr=0.3, momentum=momentum, weight_decay=weight_decay, clip=clip, foreach=f)
        for n, f in zip(nets, (True, False), strict=True)
    ]
    for step in range(5):
        torch.manual_seed(100 + step)
        x = torch.randn(4, 3, 32, 32)
        for net, opt in zip(nets, opts, strict=True):
            for g in opt.param_groups:
                g["lr"] = 0.3 / (step + 1)
            opt.zero_grad(set_to_none=True)
            net(x).square().mean().backward()
            net[3].bias.grad = None  # a parameter that got no gradient this step is left alone
            opt.step()
    for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        a, b = opts[0].state[p].get("momentum_buffer"), opts[1].state[q].get("momentum_buffer")
        assert (a is None) == (b is None) and (a is None or torch.equal(a, b))
