"""Sinkhorn-Knopp equipartition for SwAV codes, fast and numerically safe.

Reference (SwAV ``distributed_sinkhorn``) rescales the whole K x B matrix twice per
iteration. Here the iterate is kept in factored form Q = B * diag(v) E diag(u), with
E = exp((S - max S) / eps) computed ONCE in place (float32). Each iteration is then
two matrix-vector products over E (prototype sums E^T v, all-reduced across ranks, and
sample sums E u), and only the rows that are returned are ever materialised. This is
the same sequence of scalings as the reference, so the result is identical up to
rounding, for any number of iterations.

Numerical safety: the global maximum (all-reduced with MAX across ranks) is subtracted
before ``exp``: that scalar cancels in the first normalisation, so no overflow can
happen. Underflow of a whole sample row needs a score range > ~87 * eps (4.3 at
eps=0.05); SwAV scores are cosine similarities in [-1, 1], so it cannot happen there.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def _dist_ready(group: dist.ProcessGroup | None) -> bool:
    return (
        dist.is_available() and dist.is_initialized() and (group is None or group != dist.GroupMember.NON_GROUP_MEMBER)
    )


@torch.no_grad()
def sinkhorn(
    scores: torch.Tensor,
    *,
    epsilon: float = 0.05,
    iterations: int = 3,
    last_rows: int | None = None,
    group: dist.ProcessGroup | None = None,
    distributed: bool | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """Soft equipartitioned assignments of samples to prototypes.

    scores: ``[B_local, K]`` sample-prototype scores (rows: samples, including any queue
    rows; the tensor is not modified). Returns ``[last_rows or B_local, K]`` float32 codes
    for the LAST ``last_rows`` rows: each returned row sums to 1, and over all ranks and
    all rows each prototype receives B_total / K of the mass (exactly after the last
    row step; prototype sums approximately, improving with iterations).

    distributed: sum across ranks of ``group`` (default: when a process group exists).
    Every rank must call this with the same K and ``iterations``.

    inplace: use ``scores`` itself as the workspace (it must be a contiguous float32
    tensor the caller no longer needs; it is overwritten and the result is a view of
    it). A fresh 3872 x 3000 copy costs about as much as the whole algorithm (page
    faults on a new 46 MB block), so a caller that builds the scores anyway should pass
    ``inplace=True``, ideally into a buffer it reuses every step.
    """
    if scores.dim() != 2:
        raise ValueError(f"sinkhorn expects [samples, prototypes], got shape {tuple(scores.shape)}")
    use_dist = _dist_ready(group) if distributed is None else distributed
    n_local, k = scores.shape
    keep = n_local if last_rows is None else last_rows
    if not 0 < keep <= n_local:
        raise ValueError(f"last_rows={last_rows} must be in 1..{n_local}")

    if inplace:
        if scores.dtype != torch.float32 or not scores.is_contiguous() or scores.requires_grad:
            raise ValueError("sinkhorn(inplace=True) needs a contiguous float32 tensor without grad")
        e = scores
    else:
        e = scores.detach().to(torch.float32, copy=True)
    # NOTE: one GLOBAL shift by the max (a global scale is absorbed exactly; a per-row
    # one is not, for a finite number of iterations). When the scores span more than
    # float32 can carry through the iterations (range / epsilon > 80, e.g. cosine scores
    # with epsilon < 0.025), a far-away sample's row would underflow to zeros and its
    # codes become NaN: compute in float64 then (slower, only for such epsilons).
    bounds = torch.stack([e.max(), -e.min()])
    if use_dist:
        dist.all_reduce(bounds, op=dist.ReduceOp.MAX, group=group)
    top, bottom = float(bounds[0]), -float(bounds[1])
    wide = (top - bottom) / epsilon > 80.0
    if wide:
        e = e.double()
    e.sub_(top).mul_(1.0 / epsilon).exp_()

    n_total = torch.tensor(float(n_local), device=e.device)
    if use_dist:
        dist.all_reduce(n_total, group=group)
    b = float(n_total.item())

    v = torch.ones(n_local, dtype=e.dtype, device=e.device)
    if iterations == 0:
        total = e.sum()
        if use_dist:
            dist.all_reduce(total, group=group)
        return e[n_local - keep :].mul_(b / total).float()

    u = torch.empty(k, dtype=e.dtype, device=e.device)
    for _ in range(iterations):
        # prototype (row, in the paper's K x B layout) step: u_k = 1 / (K * sum_b v_b E_bk)
        torch.mv(e.t(), v, out=u)
        if use_dist:
            dist.all_reduce(u, group=group)
        # A prototype far from every sample has an all-underflowed column: keep it finite.
        u.clamp_min_(torch.finfo(e.dtype).tiny).mul_(k).reciprocal_()
        # sample (column) step: v_b = 1 / (B * sum_k E_bk u_k)
        torch.mv(e, u, out=v)
        v.mul_(b).reciprocal_()
    # Q = B * diag(v) E diag(u), rows with v_b folded in: row sums are exactly 1.
    out = e[n_local - keep :]
    out.mul_(u).mul_(v[n_local - keep :, None].mul(b))
    return out.float() if wide else out


@torch.no_grad()
def sinkhorn_reference(scores: torch.Tensor, *, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """SwAV's single-process ``distributed_sinkhorn``, verbatim: the baseline for tests and
    benches (no max subtraction: overflows for scores / epsilon > ~88)."""
    q = torch.exp(scores.float() / epsilon).t()
    b, k = q.shape[1], q.shape[0]
    q /= torch.sum(q)
    for _ in range(iterations):
        q /= torch.sum(q, dim=1, keepdim=True)
        q /= k
        q /= torch.sum(q, dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()
