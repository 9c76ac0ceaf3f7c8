"""Capture and restore the random number generators of one rank.

Recorded: torch's CPU generator, the current CUDA device's generator when CUDA
is available, numpy's global ``RandomState`` and Python's ``random``. Not
recorded: data-loader worker generators. The data pipeline derives its
randomness from (seed, epoch, global sample position), and those are saved
in ``TrainingProgress``; re-deriving them on resume gives the same stream, which is
also what makes the data order survive a change of world size.

RNG states are per rank. They are only meaningful when the same rank exists
on resume, i.e. when the world size is unchanged; the checkpointer skips them
otherwise (fresh per-rank randomness is then the honest outcome).
"""

from __future__ import annotations

import pickle
import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng", "restore_rng"]


def capture_rng() -> dict[str, Any]:
    """This process's RNG states as DCP-serialisable values (tensors and bytes)."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        # NOTE: pickled to bytes so DCP stores each as one opaque blob instead of
        # trying to flatten tuples of ints and arrays into state-dict entries.
        "numpy": pickle.dumps(np.random.get_state()),
        "python": pickle.dumps(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore the generators present in ``state`` (as made by :func:`capture_rng`)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "numpy" in state:
        np.random.set_state(pickle.loads(state["numpy"]))
    if "python" in state:
        random.setstate(pickle.loads(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
