"""Checkpoints in a real S3 API (moto_server), credentials from the environment, store outages."""

from __future__ import annotations

import os

import pytest
import s3fs
import torch
from checkpoint_workers import config, full_state, make_state, tiny_model, train

from seer.trainer.checkpoint import Checkpointer, SaveResult, latest_complete
from seer.trainer.storage import storage_options_from_env

pytestmark = pytest.mark.services


def listing(url: str) -> list[str]:
    fs = s3fs.S3FileSystem(**storage_options_from_env(url), skip_instance_cache=True)
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(url.removeprefix("s3://"), detail=False))


def test_sharded_async_save_and_resume_through_s3_with_credentials_from_the_environment(s3_bucket: str) -> None:
    url = f"{s3_bucket}/run-1"
    model = tiny_model()
    state, optimizer = make_state(model, step=10)
    train(model, optimizer, 2)
    checkpointer = Checkpointer(config(url, keep_last=2))  # storage options from AWS_* variables
    assert "testing-secret-key" not in repr(checkpointer)
    checkpointer.save(state, loss=3.0)
    expected = full_state(model)
    train(model, optimizer, 1)
    assert (result := checkpointer.wait()) is not None and result.ok, result

    info = latest_complete(url, storage_options_from_env(url))
    assert info is not None and info.step == 10 and info.url == f"{url}/step-00000010"
    assert info.manifest.loss == 3.0
    fresh_state, _ = make_state(tiny_model(seed=4))
    Checkpointer(config(url)).load_latest(fresh_state)
    assert all(torch.equal(expected[k], v) for k, v in full_state(fresh_state.model).items())


def test_retention_on_s3_keeps_exactly_k(s3_bucket: str) -> None:
    url = f"{s3_bucket}/run-2"
    state, _ = make_state(tiny_model())
    checkpointer = Checkpointer(config(url, keep_last=2))
    for step in (1, 2, 3, 4):
        state.progress.step = step
        checkpointer.save(state)
    checkpointer.close()
    assert listing(url) == ["step-00000003", "step-00000004"]


def test_an_unreachable_store_fails_the_save_cleanly_and_the_next_save_succeeds(
    s3_bucket: str,
    fault_proxy,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)  # every request goes through the proxy
    url = f"{s3_bucket}/run-3"
    model = tiny_model()
    state, optimizer = make_state(model, step=1)
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(url, keep_last=1), on_result=reported.append)
    assert (first := checkpointer.save(state, blocking=True)) is not None and first.ok
    committed = full_state(model)

    fault_proxy.down()
    train(model, optimizer, 1)
    state.progress.step = 2
    assert checkpointer.save(state) is None  # returns at once; training is not interrupted
    train(model, optimizer, 1)
    failed = checkpointer.wait()
    assert failed is not None and not failed.ok and failed.attempts == 2
    assert [(r.step, r.ok) for r in reported] == [(1, True), (2, False)]

    fault_proxy.up()
    info = latest_complete(url, storage_options_from_env(url))
    assert info is not None and info.step == 1  # what was committed is intact
    fresh_state, _ = make_state(tiny_model(seed=8))
    Checkpointer(config(url)).load_latest(fresh_state)
    assert all(torch.equal(committed[k], v) for k, v in full_state(fresh_state.model).items())

    state.progress.step = 3
    assert (recovered := checkpointer.save(state, blocking=True)) is not None and recovered.ok
    assert listing(url) == ["step-00000003"]  # retention and the torn step-2 leftovers are collected
    assert os.environ["AWS_ENDPOINT_URL"] == fault_proxy.endpoint
