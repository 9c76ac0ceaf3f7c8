"""Head, prototypes normalisation and freezing, multi-crop forward."""

import torch

from seer.trainer.models import build_trunk
from seer.trainer.optim import LARS, param_groups
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective, drop_frozen_prototype_grads_, resolution_groups


def _model(k: int = 10) -> SwAVModel:
    torch.manual_seed(0)
    trunk = build_trunk("regnety_200mf")
    return SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=32, out_dim=8, num_prototypes=k))


def test_embeddings_are_unit_norm_and_scores_have_one_column_per_prototype() -> None:
    head = SwAVHead(20, hidden_dim=16, out_dim=8, num_prototypes=5)
    z, s = head(torch.randn(4, 20))
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
    assert s.shape == (4, 5)


def test_normalize_prototypes_puts_every_row_on_the_unit_sphere() -> None:
    head = SwAVHead(20, hidden_dim=0, out_dim=8, num_prototypes=5)
    with torch.no_grad():
        head.prototypes.weight.mul_(3.0)
    head.normalize_prototypes_()
    torch.testing.assert_close(head.prototypes.weight.norm(dim=1), torch.ones(5))


def test_resolution_groups_are_runs_of_equal_size() -> None:
    crops = [torch.zeros(1, 3, 8, 8)] * 2 + [torch.zeros(1, 3, 4, 4)] * 3 + [torch.zeros(1, 3, 8, 8)]
    assert resolution_groups(crops) == [(0, 2), (2, 5), (5, 6)]


def test_one_trunk_pass_per_resolution_and_same_result_as_per_crop() -> None:
    model = _model().eval()
    calls = []
    model.trunk.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    crops = [torch.randn(3, 3, 32, 32) for _ in range(2)] + [torch.randn(3, 3, 16, 16) for _ in range(4)]
    with torch.no_grad():
        out = model(crops)
        assert calls == [6, 12]
        for v, c in enumerate(crops):
            torch.testing.assert_close(out.scores[3 * v : 3 * v + 3], model([c]).scores, rtol=1e-4, atol=1e-5)


def test_frozen_prototypes_do_not_move_while_the_rest_trains() -> None:
    model = _model()
    model.head.normalize_prototypes_()
    obj = SwAVObjective(
        num_crops=2, crops_for_assign=[0, 1], temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, feature_dim=8
    )
    opt = LARS(param_groups(model), lr=0.5, weight_decay=1e-4)
    crops = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    protos = model.head.prototypes.weight.detach().clone()
    proj = model.head.projection[0].weight.detach().clone()
    for it in range(2):
        model.head.normalize_prototypes_()
        obj(model, crops, epoch=0).backward()
        assert drop_frozen_prototype_grads_(model.head, iteration=it, freeze_iterations=2)
        opt.step()
        opt.zero_grad()
    # only float rounding of the per-step re-normalisation may touch them
    torch.testing.assert_close(model.head.prototypes.weight.detach(), protos, rtol=0, atol=1e-6)
    assert not torch.equal(model.head.projection[0].weight, proj)
    obj(model, crops, epoch=0).backward()
    assert not drop_frozen_prototype_grads_(model.head, iteration=2, freeze_iterations=2)
    opt.step()
    assert (model.head.prototypes.weight.detach() - protos).abs().max() > 1e-4
