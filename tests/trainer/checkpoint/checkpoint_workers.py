"""Shared helpers for the checkpoint tests: a tiny model, and entry points run in child processes.

Not a test module: imported by the tests, and run as a script / spawned worker.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
from torch import nn

from seer.trainer.checkpoint import (
    CheckpointConfig,
    Checkpointer,
    RetryPolicy,
    TensorSlot,
    TrainingProgress,
    TrainingState,
)


def tiny_model(seed: int = 0) -> nn.Module:
    """Conv + BN + linear: parameters, BN running buffers and a nested structure, like RegNet in miniature."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 6)
    )


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = model(torch.randn(4, 3, 4, 4, generator=generator)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def make_state(
    model: nn.Module, step: int = 0, queue: torch.Tensor | None = None
) -> tuple[TrainingState, torch.optim.Optimizer]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    per_rank = {"swav_queue": TensorSlot(queue)} if queue is not None else {}
    state = TrainingState(
        model,
        optimizer,
        progress=TrainingProgress(step=step, epoch=0, position=step * 4),
        per_rank=per_rank,
        spec_hash="sha256:test",
    )
    return state, optimizer


def config(url: str, **overrides: Any) -> CheckpointConfig:
    fields: dict[str, Any] = dict(
        url=url,
        keep_last=3,
        every_steps=1,
        every_seconds=None,
        async_save=True,
        retry=RetryPolicy(attempts=2, initial_backoff_s=0.05),
    )
    fields.update(overrides)
    return CheckpointConfig(**fields)


def full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Unsharded copy of a (possibly FSDP2) model's state for comparisons."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=False))
    return {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone() for k, v in sd.items()}


def save_then_hang(url: str, ready_file: str) -> None:
    """Child process: commit step 1, then save step 2 (~70 MB) and never commit it; the test SIGKILLs us.

    NOTE: the manifest write of step 2 blocks forever, so whenever the kill lands
    (during the shard writes or after DCP's ``.metadata``) step 2 is torn, which
    keeps the test deterministic without timing assumptions.
    """
    import threading

    from seer.trainer.checkpoint.store import CheckpointStore

    torch.set_num_threads(1)
    model = nn.Sequential(nn.Linear(256, 256), nn.Linear(256, 256))
    state = TrainingState(
        model, None, progress=TrainingProgress(step=1), extra={"big": TensorSlot(torch.randn(17, 1024, 1024))}
    )
    checkpointer = Checkpointer(config(url, async_save=False), {})
    result = checkpointer.save(state)
    assert result is not None and result.ok, result
    real_write = CheckpointStore.write_manifest

    def hang(self: CheckpointStore, step: int, manifest: Any) -> None:
        if step == 2:
            threading.Event().wait()
        real_write(self, step, manifest)

    CheckpointStore.write_manifest = hang  # type: ignore[method-assign]
    state.progress.step = 2
    with open(ready_file, "w") as f:
        f.write("saving step 2\n")
    checkpointer.save(state, blocking=True)


def full_optim_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Unsharded optimizer state keyed by parameter name (collective under FSDP2)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    sd = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True))
    return {
        name: {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).clone() for k, v in entry.items()}
        for name, entry in sd["state"].items()
    }


def dist_worker(rank: int, world_size: int, port: int, action: str, url: str, out_dir: str, fsdp: bool) -> None:
    """One rank of a gloo job: ``save`` (train 2 steps, async save step 3) or ``load`` (resume).

    Writes what the test compares to ``out_dir``: rank 0 the full model and
    optimizer state, every rank its queue and the next random draws.
    """
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        model = tiny_model(seed=0)
        if fsdp:
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            mesh = init_device_mesh("cpu", (world_size,))
            for layer in model:
                if any(p.requires_grad for p in layer.parameters()):
                    fully_shard(layer, mesh=mesh)
            fully_shard(model, mesh=mesh)
        saving = action == "save"
        queue = torch.full((4, 3), float(rank + 1)) if saving else torch.zeros(4, 3)
        state, optimizer = make_state(model, step=3 if saving else 0, queue=queue)
        checkpointer = Checkpointer(config(url), {})
        if saving:
            # Plain modules must be replicated (as under DDP): same data on every rank.
            train(model, optimizer, 2, seed=(rank + 1) if fsdp else 1)
            torch.manual_seed(1000 + rank)
            checkpointer.save(state)
        else:
            info = checkpointer.load_latest(state)
            assert info is not None, "nothing to resume from"
        draws = torch.rand(2)
        result = checkpointer.close()
        assert result is None or result.ok, result
        model_state, optim_state = full_state(model), full_optim_state(model, optimizer)
        torch.save(
            {"queue": queue, "draws": draws, "step": state.progress.step},
            os.path.join(out_dir, f"{action}-rank{rank}.pt"),
        )
        if rank == 0:
            torch.save({"model": model_state, "optim": optim_state}, os.path.join(out_dir, f"{action}-full.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_ranks(world_size: int, action: str, url: str, out_dir: str, fsdp: bool) -> None:
    """Run :func:`dist_worker` on ``world_size`` spawned processes (raises if any fails)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["OMP_NUM_THREADS"] = "1"
    mp.start_processes(
        dist_worker, args=(world_size, port, action, url, out_dir, fsdp), nprocs=world_size, start_method="spawn"
    )


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    save_then_hang(sys.argv[1], sys.argv[2])
