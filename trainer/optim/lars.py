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

The default update is multi-tensor (``foreach=True``): a handful of ``torch._foreach_*``
kernels per parameter group instead of ~5 per parameter, which matters because a
RegNet step is launch-bound on a GPU. ``foreach=False`` is the per-tensor reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor


def _local(t: torch.Tensor) -> torch.Tensor:
    """The local shard of a DTensor (a view: in-place ops on it update the DTensor), or ``t``.

    The update works on local shards so that it pays DTensor dispatch once per step, not
    once per op and tensor."""
    return t.to_local() if isinstance(t, DTensor) else t


def _global_sq_norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Squared L2 norms of whole (possibly sharded) tensors, stacked: float32 ``[len(tensors)]``."""
    if not tensors:
        return torch.zeros(0)
    sq = torch.stack(torch._foreach_norm([_local(t) for t in tensors])).float().square_()
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
        if len(idx) == len(tensors):  # the common case (FSDP2 shards everything): no gather
            for d in dims:
                dist.all_reduce(sq, group=mesh.get_group(d))
            continue
        index = torch.tensor(idx, device=sq.device)
        part = sq.index_select(0, index)
        for d in dims:
            dist.all_reduce(part, group=mesh.get_group(d))
        sq.index_copy_(0, index, part)
    return sq


def _trust_ratios(w_sq: torch.Tensor, g_sq: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
    """LARC ratios for one group, vectorised over its parameters (1 where a norm is 0)."""
    w_norm, g_norm = w_sq.sqrt(), g_sq.sqrt()
    local_lr = group["trust_coefficient"] * w_norm / (g_norm + group["weight_decay"] * w_norm + group["eps"])
    if group["clip"]:
        local_lr = torch.clamp(local_lr / group["lr"], max=1.0) if group["lr"] > 0 else torch.ones_like(local_lr)
    ok = (w_norm > 0) & (g_norm > 0)
    return torch.where(ok, local_lr, torch.ones_like(local_lr))


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
        foreach: bool = True,
    ) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0 or trust_coefficient <= 0:
            raise ValueError(
                f"invalid LARS hyper-parameters: lr={lr} momentum={momentum} weight_decay={weight_decay} "
                f"trust_coefficient={trust_coefficient}"
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
        self.foreach = foreach

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.foreach:
            self._step_foreach()
        else:
            self._step_per_tensor()
        return loss

    def _step_foreach(self) -> None:
        """The update with multi-tensor (``torch._foreach_*``) kernels: per group, a fixed
        number of launches independent of the number of parameters.

        The trust ratios of all adapted parameters are computed on the device as one vector
        and copied to the host ONCE per step (one synchronisation; the training loop reads
        the loss every step anyway), because multi-tensor kernels take per-tensor factors as
        host scalars; a list of device scalars would fall back to one launch per tensor.
        Numerically identical to ``_step_per_tensor`` for float32 parameters.
        """
        groups = [(g, [p for p in g["params"] if p.grad is not None]) for g in self.param_groups]
        adapted = [(g, ps) for g, ps in groups if ps and not g["lars_exclude"]]
        ratios: list[list[float]] = []
        if adapted:
            flat = [p for _, ps in adapted for p in ps]
            w_sq = _global_sq_norms(flat)
            g_sq = _global_sq_norms([p.grad for p in flat])
            parts, start = [], 0
            for g, ps in adapted:
                parts.append(_trust_ratios(w_sq[start : start + len(ps)], g_sq[start : start + len(ps)], g))
                start += len(ps)
            ratios = [r.tolist() for r in torch.cat(parts).cpu().split([len(ps) for _, ps in adapted])]
        ratio_iter = iter(ratios)
        for group, ps in groups:
            if not ps:
                continue
            lr, mom, wd = group["lr"], group["momentum"], group["weight_decay"]
            params = [_local(p) for p in ps]
            grads = [_local(p.grad) for p in ps]
            if group["lars_exclude"]:
                d = grads
            else:
                if wd:
                    d = torch._foreach_add(grads, params, alpha=wd)
                    torch._foreach_mul_(d, next(ratio_iter))
                else:
                    d = torch._foreach_mul(grads, next(ratio_iter))
            if mom:
                bufs = []
                for p in ps:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        # zeros * momentum + d == d exactly: the first step equals the reference's clone.
                        state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    bufs.append(_local(state["momentum_buffer"]))
                torch._foreach_mul_(bufs, mom)
                torch._foreach_add_(bufs, d)
                d = bufs
            torch._foreach_add_(params, d, alpha=-lr)

    def _step_per_tensor(self) -> None:
        """The reference update, one tensor at a time (kept for tests and ``bench/op_count.py``)."""
        adapted = [
            (g, p) for g in self.param_groups if not g["lars_exclude"] for p in g["params"] if p.grad is not None
        ]
        ratio_by_param: dict[int, torch.Tensor] = {}
        if adapted:
            w_sq = _global_sq_norms([p for _, p in adapted])
            g_sq = _global_sq_norms([p.grad for _, p in adapted])
            for i, (group, p) in enumerate(adapted):
                ratio_by_param[id(p)] = _trust_ratios(w_sq[i], g_sq[i], group)
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
