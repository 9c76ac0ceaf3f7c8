"""The checkpointer's config comes from the job spec's ``checkpoint`` section in one call."""

from __future__ import annotations

from seer.platform.spec import CheckpointSpec
from seer.trainer.checkpoint import CheckpointConfig, RetryPolicy


def test_from_spec_maps_every_spec_field_and_keeps_the_implementation_defaults() -> None:
    section = CheckpointSpec.model_validate(
        {"url": "s3://ignored", "intervalSteps": 40, "intervalSeconds": 900.0, "keepLast": 2, "asyncSave": False}
    )
    config = CheckpointConfig.from_spec(section, url="/resolved/checkpoints")
    assert (config.url, config.every_steps, config.every_seconds, config.keep_last, config.async_save) == (
        "/resolved/checkpoints",
        40,
        900.0,
        2,
        False,
    )
    assert config.retry == RetryPolicy() and config.thread_count == 4
