"""RegNetY modules: shapes, block anatomy, meta construction."""

import torch
from torch import nn

from seer.trainer.models import ResBottleneckBlock, build_trunk, init_weights_


def test_trunk_returns_pooled_features_of_out_features_width() -> None:
    trunk = build_trunk("regnety_200mf")
    y = trunk(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, trunk.out_features) == (2, 368)


def test_block_uses_input_width_for_se_and_groups_of_group_width() -> None:
    block = ResBottleneckBlock(32, 64, stride=2, group_width=16, bottleneck_ratio=1.0, se_ratio=0.25)
    assert block.se.reduce.out_channels == 8  # 0.25 * INPUT width 32, not 64
    assert block.b[0].groups == 64 // 16 and block.b[0].stride == (2, 2)
    assert block.proj is not None and block.proj[0].stride == (2, 2)
    assert block(torch.randn(1, 32, 16, 16)).shape == (1, 64, 8, 8)


def test_block_without_shape_change_has_identity_shortcut_and_starts_as_identity() -> None:
    block = ResBottleneckBlock(16, 16, stride=1, group_width=8, bottleneck_ratio=1.0, se_ratio=0.25)
    init_weights_(block)
    assert block.proj is None
    x = torch.rand(2, 16, 8, 8)  # non-negative: relu(x + 0) == x
    torch.testing.assert_close(block(x), x)


def test_huge_variant_builds_on_meta_without_memory() -> None:
    trunk = build_trunk("regnety_10b", device="meta")
    assert all(p.is_meta for p in trunk.parameters())
    assert trunk.out_features == 28280
    assert isinstance(trunk.stages, nn.ModuleList) and len(trunk.stages) == 4
