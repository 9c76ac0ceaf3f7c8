"""FSDP2 parallelisation: sharding of huge models without memory, CPU bf16 step."""

import socket

import pytest
import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import DTensor
from torch.testing._internal.distributed.fake_pg import FakeStore

from seer.trainer.models import build_trunk
from seer.trainer.optim import LARS, param_groups
from seer.trainer.parallel import parallelize
from seer.trainer.swav import SwAVHead, SwAVModel, SwAVObjective


def _swav(variant: str, device: str | None = None) -> SwAVModel:
    trunk = build_trunk(variant, device=device)
    with torch.device(device or "cpu"):
        head = SwAVHead(
            trunk.out_features,
            hidden_dim=64 if device is None else 2048,
            out_dim=16 if device is None else 128,
            num_prototypes=30 if device is None else 3000,
        )
    return SwAVModel(trunk, head)


@pytest.fixture
def fake_world():
    def init(world: int):
        dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world)
        return init_device_mesh("cpu", (world,))

    yield init
    dist.destroy_process_group()


@pytest.fixture
def gloo_world():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    yield init_device_mesh("cpu", (1,))
    dist.destroy_process_group()


@pytest.mark.parametrize("variant,world", [("regnety_256gf", 8), ("regnety_10b", 64)])
def test_meta_model_shards_to_one_nth_of_the_parameters_per_rank(fake_world, variant: str, world: int) -> None:
    mesh = fake_world(world)
    model = _swav(variant, device="meta")
    total = sum(p.numel() for p in model.parameters())
    parallelize(model, mesh=mesh, precision="bf16")
    params = list(model.parameters())
    assert params and all(isinstance(p, DTensor) and p.device.type == "meta" for p in params)
    local = sum(p.to_local().numel() for p in params)
    assert sum(p.numel() for p in params) == total
    # uneven dim-0 splits (e.g. 3 BN channels over 64 ranks) leave rank 0 slightly more
    assert total / world <= local <= total / world * 1.05
    assert {len(p.placements) for p in params} == {1} and all(p.placements[0].is_shard(0) for p in params)


@pytest.mark.parametrize("cpu_autocast", [True, False], ids=["autocast", "fsdp-bf16-params-with-fp32-bn-units"])
def test_cpu_bf16_forward_and_backward_run_with_fp32_batchnorm(gloo_world, cpu_autocast: bool) -> None:
    torch.manual_seed(0)
    model = parallelize(
        _swav("regnety_200mf"),
        mesh=gloo_world,
        precision="bf16",
        activation_checkpointing=True,
        device="cpu",
        cpu_autocast=cpu_autocast,
    )
    obj = SwAVObjective(
        num_crops=3, crops_for_assign=[0, 1], temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, feature_dim=16
    )
    opt = LARS(param_groups(model), lr=0.1, weight_decay=1e-5)
    crops = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32), torch.randn(4, 3, 16, 16)]
    before = model.head.projection[0].weight.full_tensor().clone()
    model.head.normalize_prototypes_()
    loss = obj(model, crops, epoch=0)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
    assert not torch.equal(model.head.projection[0].weight.full_tensor(), before)
    bn = model.trunk.stem[1]
    assert bn.weight.dtype == torch.float32


def test_bf16_parameter_policy_without_a_mesh_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs FSDP"):
        parallelize(_swav("regnety_200mf"), mesh=None, precision="bf16", cpu_autocast=False)


def test_bf16_on_cpu_runs_under_autocast_with_float32_parameters_and_batchnorm() -> None:
    model = parallelize(_swav("regnety_200mf"), mesh=None, precision="bf16", device="cpu")
    assert model.autocast_dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())
    out = model([torch.randn(4, 3, 32, 32) for _ in range(2)])
    assert out.scores.dtype == torch.bfloat16  # the matmuls ran in bf16
    out.scores.float().sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_sync_batchnorm_is_refused_on_cpu() -> None:
    with pytest.raises(ValueError, match="SyncBatchNorm"):
        parallelize(_swav("regnety_200mf"), mesh=None, sync_batchnorm=True, device="cpu")


def test_channels_last_applies_to_inputs_and_works_under_fsdp():
    """FSDP2 rejects non-contiguous (channels_last) parameters, so only inputs go NHWC;
    the forward must run sharded and return the same features as without it."""
    import os
    import socket

    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    from seer.trainer.models import build_trunk
    from seer.trainer.parallel import parallelize
    from seer.trainer.swav import SwAVHead, SwAVModel

    created = False
    if not dist.is_initialized():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
        created = True
    try:
        torch.manual_seed(0)
        design = {"depth": 2, "w0": 8, "wa": 8.0, "wm": 2.0, "group_width": 8, "stem_width": 8}
        from seer.platform.variants import RegNetDesign

        trunk = build_trunk(RegNetDesign(**design))
        reference = SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=16, out_dim=8, num_prototypes=5))
        sharded = SwAVModel(
            build_trunk(RegNetDesign(**design)),
            SwAVHead(trunk.out_features, hidden_dim=16, out_dim=8, num_prototypes=5),
        )
        sharded.load_state_dict(reference.state_dict())
        parallelize(sharded, mesh=init_device_mesh("cpu", (1,)), precision="fp32", device="cpu", channels_last=True)
        assert sharded.input_memory_format == torch.channels_last
        crops = [torch.randn(4, 3, 16, 16) for _ in range(2)]
        reference.eval(), sharded.eval()
        torch.testing.assert_close(sharded(crops).scores, reference(crops).scores, rtol=1e-4, atol=1e-5)
    finally:
        if created:
            dist.destroy_process_group()
