"""``apply_parallelism``: the one call the loop makes — it sizes the job, picks the layout,
builds the mesh and wraps the model; the choice can be exported to Prometheus."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from prometheus_client import CollectorRegistry
from torch.distributed.fsdp import FSDPModule
from torch.distributed.tensor import DTensor
from torch.testing._internal.distributed.fake_pg import FakeStore

from seer.platform.spec import SeerJob
from seer.trainer.models import build_trunk
from seer.trainer.parallel import apply_parallelism, export_choice
from seer.trainer.swav import SwAVHead, SwAVModel


def _job(**training: object) -> SeerJob:
    return SeerJob.model_validate(
        {
            "apiVersion": "seer.dev/v1alpha1",
            "kind": "SeerJob",
            "metadata": {"name": "sizing"},
            "spec": {
                "model": {"variant": "regnety_200mf", "head": {"hiddenDim": 64, "outputDim": 16}},
                "swav": {"numPrototypes": 30},
                "data": {"batchSize": 4},
                "training": {"precision": "fp32", **training},
            },
        }
    )


def _model() -> SwAVModel:
    trunk = build_trunk("regnety_200mf")
    return SwAVModel(trunk, SwAVHead(trunk.out_features, hidden_dim=64, out_dim=16, num_prototypes=30))


def _checkpointed_blocks(model: SwAVModel) -> int:
    return sum(type(b).__name__ == "CheckpointWrapper" for s in model.trunk.stages for b in s.blocks)


def test_one_cpu_process_gets_the_plain_module_with_channels_last_weights() -> None:
    model = _model()
    choice = apply_parallelism(model, _job(), torch.device("cpu"))
    assert choice.plan.kind == "none" and choice.mesh is None and model.parallel_choice is choice
    assert not isinstance(model, FSDPModule) and _checkpointed_blocks(model) == 0
    conv = model.trunk.stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert "one process" in choice.plan.reason


def test_a_batch_that_would_not_fit_turns_activation_checkpointing_on() -> None:
    model = _model()
    choice = apply_parallelism(model, _job(), torch.device("cpu"), device_bytes=2**30)  # < the 3 GiB overhead
    assert choice.plan.activation_checkpointing and _checkpointed_blocks(model) == sum(
        len(s.blocks) for s in model.trunk.stages
    )
    off = apply_parallelism(_model(), _job(activationCheckpointing=False), torch.device("cpu"), device_bytes=2**30)
    assert not off.plan.activation_checkpointing and "WARNING" in off.plan.reason


@pytest.fixture
def fake_world(monkeypatch: pytest.MonkeyPatch):
    def init(world: int, per_node: int) -> None:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", str(per_node))
        dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world)

    yield init
    dist.destroy_process_group()


def test_hsdp_builds_a_two_dimensional_mesh_sharding_within_a_node(fake_world) -> None:
    fake_world(16, 8)
    model = _model()
    choice = apply_parallelism(model, _job(parallelism="hsdp"), torch.device("cpu"))
    assert choice.plan.kind == "hsdp" and choice.mesh is not None
    assert choice.mesh.mesh_dim_names == ("replicate", "shard") and tuple(choice.mesh.shape) == (2, 8)
    w = model.trunk.stages[0].blocks[0].a[0].weight
    assert isinstance(w, DTensor) and [p.is_shard() for p in w.placements] == [False, True]


def test_several_ranks_with_room_to_spare_replicate_with_ddp(fake_world) -> None:
    fake_world(4, 4)
    model = _model()
    choice = apply_parallelism(model, _job(), torch.device("cpu"))
    assert choice.plan.kind == "ddp" and tuple(choice.mesh.shape) == (4,)
    assert not isinstance(model.trunk.stem[0].weight, DTensor)  # replicated: plain tensors, same names
    assert "stem.0.weight" in dict(model.trunk.named_parameters())


def test_the_choice_is_exported_as_an_info_metric() -> None:
    choice = apply_parallelism(_model(), _job(), torch.device("cpu"))
    registry = CollectorRegistry()
    export_choice(choice, registry, {"job": "sizing", "rank": "0"})
    text = registry.get_sample_value(
        "seer_train_parallelism_info",
        {
            "job": "sizing",
            "rank": "0",
            "parallelism": "none",
            "shard_size": "1",
            "replicate_size": "1",
            "activation_checkpointing": "False",
            "estimated_gib": str(choice.as_fields()["estimated_gib"]),
            "reason": choice.plan.reason,
        },
    )
    assert text == 1.0
