"""What a checkpoint holds: the ``TrainingState`` Stateful and its small helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from .rng import capture_rng, restore_rng

__all__ = ["StatefulLike", "TensorSlot", "TrainingProgress", "TrainingState", "current_rank", "current_world_size"]

PER_RANK_PREFIX = "rank_"


@runtime_checkable
class StatefulLike(Protocol):
    """Anything with ``state_dict()``/``load_state_dict()`` (LR schedulers, ``TrainingProgress``, ``TensorSlot``)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


def current_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def current_world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@dataclass
class TrainingProgress:
    """Where training is: replicated on every rank, written once.

    ``step`` counts completed optimizer steps. ``position`` is the global sample
    position within ``epoch`` (samples consumed by all ranks together) *after* the last
    completed step, so the data order can be resumed on a different number of ranks.
    """

    step: int = 0
    epoch: int = 0
    position: int = 0

    def advance(self, *, epoch: int, position: int) -> None:
        """Record one completed step whose batch was of ``epoch`` and ended at ``position``."""
        self.step, self.epoch, self.position = self.step + 1, epoch, position

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.step = int(state_dict["step"])
        self.epoch = int(state_dict["epoch"])
        self.position = int(state_dict["position"])


class TensorSlot:
    """Checkpoints a tensor the loop owns (e.g. the SwAV feature queue), restored in place.

    In place so that references the loop holds stay valid. The shape must not
    change between save and load.
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"tensor": self.tensor}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        loaded = state_dict["tensor"]
        if loaded is not self.tensor:
            if loaded.shape != self.tensor.shape:
                raise ValueError(
                    f"TensorSlot shape changed: checkpoint {tuple(loaded.shape)}, live {tuple(self.tensor.shape)}"
                )
            with torch.no_grad():
                self.tensor.copy_(loaded)


class TrainingState:
    """The whole training state of one rank, in DCP's ``Stateful`` form.

    State-dict layout (top-level keys)::

        model      get_state_dict(model, optimizer)[0]: sharded DTensors under FSDP2, plain tensors otherwise
        optim      get_state_dict(model, optimizer)[1]: keyed by parameter FQN, so it reshards too
        progress   TrainingProgress (step, epoch, global sample position)
        extra      {name: stateful.state_dict()} — replicated state (LR schedule, ...), stored once
        spec_hash  the job spec's hash
        rank_<r>   {"rng": ..., name: stateful.state_dict()} — this rank's own state (RNG, SwAV queue)

    Invariants: ``extra`` must be identical on all ranks (DCP keeps one copy of
    replicated entries); ``per_rank`` entries live under a rank-specific key so
    every rank's copy is kept. Per-rank state is only requested on load when the
    world size is unchanged (``include_per_rank``), because rank r of a resized
    job is not the same worker.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None,
        *,
        progress: TrainingProgress,
        extra: Mapping[str, StatefulLike] | None = None,
        per_rank: Mapping[str, StatefulLike] | None = None,
        spec_hash: str = "",
        save_rng: bool = True,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.progress = progress
        self.extra = dict(extra or {})
        self.per_rank = dict(per_rank or {})
        self.spec_hash = spec_hash
        self.save_rng = save_rng
        self.loaded_spec_hash: str | None = None
        for reserved in ("rng",):
            if reserved in self.per_rank:
                raise ValueError(f"per_rank name {reserved!r} is reserved")

    @property
    def per_rank_key(self) -> str:
        return f"{PER_RANK_PREFIX}{current_rank()}"

    def state_dict(self, *, include_per_rank: bool = True) -> dict[str, Any]:
        optimizers = [self.optimizer] if self.optimizer is not None else []
        model_sd, optim_sd = get_state_dict(self.model, optimizers)
        state: dict[str, Any] = {
            "model": model_sd,
            "progress": self.progress.state_dict(),
            "extra": {name: s.state_dict() for name, s in self.extra.items()},
            "spec_hash": self.spec_hash,
        }
        if self.optimizer is not None:
            state["optim"] = optim_sd
        if include_per_rank:
            own: dict[str, Any] = {name: s.state_dict() for name, s in self.per_rank.items()}
            if self.save_rng:
                own["rng"] = capture_rng()
            state[self.per_rank_key] = own
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore from a loaded state dict; per-rank state only if its key is present."""
        optimizers = [self.optimizer] if self.optimizer is not None else []
        set_state_dict(
            self.model,
            optimizers,
            model_state_dict=state_dict["model"],
            optim_state_dict=state_dict.get("optim", {}),
        )
        self.progress.load_state_dict(state_dict["progress"])
        for name, stateful in self.extra.items():
            stateful.load_state_dict(state_dict["extra"][name])
        self.loaded_spec_hash = state_dict.get("spec_hash")
        own = state_dict.get(self.per_rank_key)
        if own is not None:
            for name, stateful in self.per_rank.items():
                if name in own:
                    stateful.load_state_dict(own[name])
            if "rng" in own:
                restore_rng(own["rng"])
