"""One training step: frozen prototypes stay put, a non-finite loss stops the run."""

from __future__ import annotations

import pytest
import torch
from tiny_jobs import tiny_spec

from seer.platform.loading import validate_document
from seer.platform.spec import SeerJob
from seer.trainer.components import build_model, build_objective, build_optimizer, seed_everything
from seer.trainer.loop import NonFiniteLoss
from seer.trainer.train_step import train_step

CPU = torch.device("cpu")


@pytest.fixture
def job() -> SeerJob:
    return validate_document(
        {
            "apiVersion": "seer.dev/v1alpha1",
            "kind": "SeerJob",
            "metadata": {"name": "step"},
            "spec": tiny_spec(
                swav={"freezePrototypesSteps": 2}, optim={"name": "sgd"}, data={"sources": ["/data/none"]}
            ),
        }
    )


def crops(fill: float | None = None) -> list[torch.Tensor]:
    sizes = (16, 16, 8, 8)
    if fill is not None:
        return [torch.full((4, 3, s, s), fill) for s in sizes]
    return [torch.randn(4, 3, s, s) for s in sizes]


def test_prototypes_stay_put_while_frozen_and_move_afterwards(job: SeerJob) -> None:
    seed_everything(0)
    model = build_model(job, CPU)
    objective, optimizer = build_objective(job, CPU, 1), build_optimizer(job, model)
    trunk_before = next(model.trunk.parameters()).detach().clone()
    snapshots = []
    for step in range(3):
        loss = train_step(model, objective, optimizer, crops(), step=step, epoch=0, lr=0.5, freeze_prototypes_steps=2)
        assert loss > 0
        snapshots.append(model.head.prototypes.weight.detach().clone())
    # Steps 0 and 1: frozen (re-normalising unit rows only rounds); step 2: free.
    assert (snapshots[1] - snapshots[0]).abs().max() < 1e-6
    assert (snapshots[2] - snapshots[1]).abs().max() > 1e-4
    assert not torch.equal(trunk_before, next(model.trunk.parameters()))
    assert all(group["lr"] == 0.5 for group in optimizer.param_groups)


def test_a_nan_loss_raises_non_finite_loss_naming_the_step(job: SeerJob) -> None:
    seed_everything(0)
    model = build_model(job, CPU)
    objective, optimizer = build_objective(job, CPU, 1), build_optimizer(job, model)
    with pytest.raises(NonFiniteLoss, match="at step 7"):
        train_step(model, objective, optimizer, crops(float("nan")), step=7, epoch=0, lr=0.1, freeze_prototypes_steps=0)
