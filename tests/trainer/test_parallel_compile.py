"""torch.compile without a recompile storm: after the first multi-crop step (one graph per
crop resolution, or per distinct block shape x resolution) nothing recompiles, and the
recompile limit is never hit. A cheap backend ("eager") keeps this a CPU test."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from seer.trainer.models import build_trunk
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import apply_compile, parallelize
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    saved = (torch._dynamo.config.recompile_limit, torch._dynamo.config.accumulated_recompile_limit)
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        yield
    torch._dynamo.config.recompile_limit, torch._dynamo.config.accumulated_recompile_limit = saved
    torch._dynamo.reset()


def _training(region: str):
    torch.manual_seed(0)
    trunk = build_trunk("regnety_200mf")
    model = SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=32, out_dim=16, num_prototypes=20))
    parallelize(model, mesh=None, device="cpu", compile=True, compile_region=region, compile_backend="eager")  # type: ignore[arg-type]
    objective = SwAVObjective(
        num_crops=6, crops_for_assign=[0, 1], temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, feature_dim=16
    )
    optimizer = LARS(param_groups(model), lr=0.1)

    def step(seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        crops = [torch.randn(2, 3, 32, 32, generator=g) for _ in range(2)]
        crops += [torch.randn(2, 3, 16, 16, generator=g) for _ in range(4)]
        model.head.normalize_prototypes_()
        loss = objective(model, crops, epoch=0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return model, step


@pytest.mark.parametrize(("region", "graphs"), [("trunk", 2), ("blocks", None)])
def test_multi_crop_steps_do_not_recompile_after_warm_up(region: str, graphs: int | None) -> None:
    model, step = _training(region)
    step(0)  # warm-up: every resolution (and block shape) compiled once
    warm = counters["stats"]["unique_graphs"]
    assert warm > 0
    if graphs is not None:
        assert warm == graphs  # one static graph per crop resolution
    with torch._dynamo.config.patch(error_on_recompile=True):
        for seed in (1, 2, 3):
            step(seed)
    assert counters["stats"]["unique_graphs"] == warm


def test_per_block_compilation_with_dynamos_default_limit_storms() -> None:
    """The control: RegNetY-200MF has more distinct block graphs than the default limit (8),
    which is what made compiled training fall back to eager on the GPU."""
    torch.manual_seed(0)
    trunk = build_trunk("regnety_200mf")
    model = SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=32, out_dim=16, num_prototypes=20))
    expected = apply_compile(model, region="blocks", resolutions=2, backend="eager")
    assert expected > 8
    torch._dynamo.config.recompile_limit = 8  # undo the sizing
    with pytest.raises(Exception, match="recompile_limit|cache_size_limit|hit config"):
        for size in (32, 16):
            model.trunk(torch.randn(2, 3, size, size))
