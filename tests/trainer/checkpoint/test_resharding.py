"""Elastic resume: a checkpoint written by N ranks loads on M ranks (real gloo groups, plain and FSDP2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from checkpoint_workers import config, full_optim_state, full_state, make_state, run_ranks, tiny_model, train

from seer.trainer.checkpoint import Checkpointer, latest_complete

pytestmark = pytest.mark.slow


def assert_same(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            assert_same(value, actual[key])
        else:
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(actual[key])), key


def load_in_this_process(url: str) -> tuple[dict[str, Any], dict[str, Any], torch.Tensor]:
    model = tiny_model(seed=42)
    queue = torch.zeros(4, 3)
    state, optimizer = make_state(model, queue=queue)
    assert Checkpointer(config(url), {}).load_latest(state) is not None
    return full_state(model), full_optim_state(model, optimizer), queue


@pytest.mark.parametrize("fsdp", [False, True], ids=["plain", "fsdp2"])
def test_two_rank_checkpoint_resumes_on_one_process_and_on_two_ranks(tmp_path: Path, fsdp: bool) -> None:
    url, out = str(tmp_path / "ckpt"), tmp_path
    run_ranks(2, "save", url, str(out), fsdp)
    saved = torch.load(out / "save-full.pt")
    info = latest_complete(url)
    assert info is not None and info.manifest.world_size == 2 and info.step == 3

    # 2 -> 1 (no process group): model, BN buffers and AdamW state reshard exactly.
    model_state, optim_state, queue = load_in_this_process(url)
    assert_same(saved["model"], model_state)
    assert_same(saved["optim"], optim_state)
    assert torch.equal(queue, torch.zeros(4, 3))  # per-rank state is not restored on a resized job

    # 2 -> 2: everything, including each rank's own queue and RNG stream.
    run_ranks(2, "load", url, str(out), fsdp)
    assert_same(saved, torch.load(out / "load-full.pt"))
    for rank in range(2):
        before, after = torch.load(out / f"save-rank{rank}.pt"), torch.load(out / f"load-rank{rank}.pt")
        assert torch.equal(after["queue"], torch.full((4, 3), float(rank + 1)))
        assert torch.equal(after["draws"], before["draws"])
        assert after["step"] == 3


@pytest.mark.parametrize("fsdp", [False, True], ids=["plain", "fsdp2"])
def test_one_process_checkpoint_resumes_on_two_ranks(tmp_path: Path, fsdp: bool) -> None:
    url = str(tmp_path / "ckpt")
    model = tiny_model(seed=0)
    state, optimizer = make_state(model, step=3, queue=torch.ones(4, 3))
    train(model, optimizer, 2)
    Checkpointer(config(url), {}).save(state, blocking=True)
    expected = {"model": full_state(model), "optim": full_optim_state(model, optimizer)}

    run_ranks(2, "load", url, str(tmp_path), fsdp)
    assert_same(expected, torch.load(tmp_path / "load-full.pt"))
    for rank in range(2):
        loaded = torch.load(tmp_path / f"load-rank{rank}.pt")
        assert loaded["step"] == 3 and torch.equal(loaded["queue"], torch.zeros(4, 3))
