"""LARS/LARC: SGD with momentum and a per-parameter trust ratio (You et al., 2017).

Trust ratio (apex ``LARC`` / VISSL semantics), for an adapted parameter w with grad g:

    local_lr = trust_coefficient * ||w|| / (||g|| + weight_decay * ||w|| + eps)
    clip=True  (LARC "clip" mode):  step = min(local_lr, lr) * (g + wd * w)
    clip=False (LARC "scale" mode): step = lr * local_lr * (g + wd * w)

with momentum applied to the scaled gradient, as apex LARC wrapping torch SGD. When
||w|| or ||g|| is zero the ratio is 1. Excluded parameters (BatchNorm weights/biases and
all biases, see ``param_groups``) get neither the trust ratio nor weight decay: plain
SGD with momentum. SwAV/SEER published runs use clip=False with trust_coefficient 0.001;
clip mode is typically used with trust_coefficient ~0.02 (apex's default).

FSDP2: parameters are DTensors sharded over a mesh; the norms must be of the WHOLE
parameter. All local squared norms of one step are computed with one ``_foreach_norm``
and summed across the shard groups in ONE all-reduce per mesh, not one per tensor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor


def _global_sq_norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Squared L2 norms of whole (possibly sharded) tensors, as local scalars."""
    if not tensors:
        return []
    locals_ = [t.to_local() if isinstance(t, DTensor) else t for t in tensors]
    sq = torch.stack(torch._foreach_norm(locals_)).float().square_()
    # Group sharded DTensors by the mesh dims over which their local pieces must be summed.
    pending: dict[tuple[Any, tuple[int, ...]], list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        if isinstance(t, DTensor):
            shard_dims = tuple(d for d, p in enumerate(t.placements) if p.is_shard())
            if shard_dims:
                pending[(t.device_mesh, shard_dims)].append(i)
            if any(p.is_partial() for p in t.placements):
                raise NotImplementedError("LARS: Partial-placed parameters are not supported")
    for (mesh, dims), idx in pending.items():
        index = torch.tensor(idx, device=sq.device)
        part = sq.index_select(0, index)
        for d in dims:
            dist.all_reduce(part, group=mesh.get_group(d))
        sq.index_copy_(0, index, part)
    return list(sq.unbind(0))


class LARS(torch.optim.Optimizer):
    """SGD + momentum + LARC trust ratio. Param-group key ``lars_exclude`` (bool):
    True -> no trust ratio, no weight decay (use ``param_groups(model)`` to build them).

    Defaults are LARC's; the job spec (not this class) holds the run's values.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
        *,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        clip: bool = False,
        eps: float = 1e-8,
    ) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0 or trust_coefficient <= 0:
            raise ValueError(
                f"invalid LARS hyper-parameters: lr={lr} momentum={momentum} weight_decay={weight_decay} trust_coefficient={trust_coefficient}"
            )
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coefficient=trust_coefficient,
            clip=clip,
            eps=eps,
            lars_exclude=False,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        adapted = [
            (g, p) for g in self.param_groups if not g["lars_exclude"] for p in g["params"] if p.grad is not None
        ]
        ratio_by_param: dict[int, torch.Tensor] = {}
        if adapted:
            w_sq = _global_sq_norms([p for _, p in adapted])
            g_sq = _global_sq_norms([p.grad for _, p in adapted])
            for (group, p), ws, gs in zip(adapted, w_sq, g_sq, strict=False):
                w_norm, g_norm = ws.sqrt(), gs.sqrt()
                local_lr = (
                    group["trust_coefficient"] * w_norm / (g_norm + group["weight_decay"] * w_norm + group["eps"])
                )
                if group["clip"]:
                    local_lr = (
                        torch.clamp(local_lr / group["lr"], max=1.0) if group["lr"] > 0 else torch.ones_like(local_lr)
                    )
                ok = (w_norm > 0) & (g_norm > 0)
                ratio_by_param[id(p)] = torch.where(ok, local_lr, torch.ones_like(local_lr))
        for group in self.param_groups:
            lr, mom, wd, exclude = group["lr"], group["momentum"], group["weight_decay"], group["lars_exclude"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if not exclude:
                    d = d.add(p, alpha=wd) if wd else d.clone()
                    d.mul_(ratio_by_param[id(p)].to(d.dtype))
                if mom:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = d.detach().clone()
                    else:
                        buf.mul_(mom).add_(d)
                    d = buf
                p.add_(d, alpha=-lr)
        return loss
