"""The manifest format, the spec hash and the retry schedule."""

from __future__ import annotations

import json
import math

import pytest

from seer.trainer.checkpoint import Manifest, RetryPolicy


def manifest(**overrides: object) -> Manifest:
    fields = dict(
        step=7,
        epoch=1,
        position=4096,
        world_size=2,
        spec_hash="sha256:x",
        loss=2.5,
        unix_time=1.0,
        time="1970-01-01T00:00:01+00:00",
        duration_s=0.5,
        torch_version="2.13.0",
    )
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_manifest_round_trips_through_human_readable_json() -> None:
    m = manifest()
    text = m.to_json()
    assert json.loads(text)["step"] == 7 and "\n  " in text
    assert Manifest.from_json(text) == m


def test_nan_loss_is_kept_readable() -> None:
    parsed = Manifest.from_json(manifest(loss=float("nan")).to_json())
    assert parsed.loss is not None and math.isnan(parsed.loss)


def test_unknown_keys_from_newer_writers_are_ignored_and_missing_ones_fail() -> None:
    data = json.loads(manifest().to_json())
    data["future_field"] = 1
    assert Manifest.from_json(json.dumps(data)).step == 7
    del data["step"]
    with pytest.raises(ValueError, match="missing"):
        Manifest.from_json(json.dumps(data))


def test_retry_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(attempts=5, initial_backoff_s=0.5, multiplier=2.0, max_backoff_s=1.5)
    assert [policy.backoff_s(i) for i in range(4)] == [0.5, 1.0, 1.5, 1.5]


def test_retries_are_bounded_and_respect_a_deadline() -> None:
    policy = RetryPolicy(attempts=3, initial_backoff_s=1.0)
    assert policy.should_retry(0, None) and policy.should_retry(1, None)
    assert not policy.should_retry(2, None)
    assert not policy.should_retry(0, seconds_left=0.5)  # the pause would end past the deadline


def test_retry_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
