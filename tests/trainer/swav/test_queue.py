"""Feature queue: ring buffer, checkpointable state, used from its epoch once full."""

import torch

from seer.trainer.models import build_trunk
from seer.trainer.swav import FeatureQueue, SwAVHead, SwAVModel, SwAVObjective


def test_push_wraps_around_and_keeps_the_latest_rows() -> None:
    q = FeatureQueue(num_assign_crops=1, length=5, dim=1)
    for start in (0, 3, 6):
        q.push(torch.arange(start, start + 3, dtype=torch.float32).view(1, 3, 1))
    assert q.is_full
    assert sorted(q.features.flatten().tolist()) == [4, 5, 6, 7, 8]


def test_not_full_until_length_rows_pushed() -> None:
    q = FeatureQueue(num_assign_crops=2, length=4, dim=3)
    q.push(torch.ones(2, 3, 3))
    assert not q.is_full
    q.push(torch.ones(2, 1, 3))
    assert q.is_full


def test_state_dict_round_trips_contents_and_position() -> None:
    q = FeatureQueue(num_assign_crops=1, length=4, dim=2)
    q.push(torch.randn(1, 3, 2))
    r = FeatureQueue(num_assign_crops=1, length=4, dim=2)
    r.load_state_dict(q.state_dict())
    assert torch.equal(r.features, q.features) and int(r.ptr) == 3 and int(r.filled) == 3


def test_per_rank_length_follows_swav_rounding() -> None:
    assert FeatureQueue.per_rank_length(3840, 2, 32) == 1920
    assert FeatureQueue.per_rank_length(3850, 1, 32) == 3840


def _tiny(queue_length: int, starts: int):
    torch.manual_seed(0)
    trunk = build_trunk("regnety_200mf")
    model = SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=32, out_dim=8, num_prototypes=10)).eval()
    obj = SwAVObjective(
        num_crops=2,
        crops_for_assign=[0, 1],
        temperature=0.1,
        epsilon=0.05,
        sinkhorn_iterations=3,
        queue_length=queue_length,
        queue_starts_epoch=starts,
        feature_dim=8,
    )
    return model, obj


def test_queue_is_filled_only_from_its_start_epoch() -> None:
    model, obj = _tiny(8, starts=1)
    crops = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    with torch.no_grad():
        obj(model, crops, epoch=0)
        assert int(obj.queue.filled) == 0
        obj(model, crops, epoch=1)
        assert int(obj.queue.filled) == 4


def test_full_queue_changes_the_codes_and_so_the_loss() -> None:
    model, obj = _tiny(8, starts=0)
    _, plain = _tiny(0, starts=0)
    batches = [[torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)] for _ in range(3)]
    with torch.no_grad():
        with_queue = [obj(model, crops, epoch=0).item() for crops in batches]
        without = [plain(model, crops, epoch=0).item() for crops in batches]
    assert with_queue[:2] == without[:2]  # not full yet: queue unused
    assert abs(with_queue[2] - without[2]) > 1e-4  # full: 8 rows of past batches join Sinkhorn
