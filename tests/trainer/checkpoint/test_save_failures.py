"""Every save ends in exactly one reported ``SaveResult``, whatever it raised (issue 12, item 1).

DCP reports failed writes as ``CheckpointException``, a ``BaseException``; before this was
handled the save thread died with it and nobody heard of the save again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from checkpoint_workers import config, make_state, tiny_model
from torch.distributed.checkpoint.api import CheckpointException

import seer.trainer.checkpoint.checkpointer as checkpointer_module
from seer.trainer.checkpoint import Checkpointer, SaveResult, latest_complete


class NotAnException(BaseException):
    """Some library's BaseException subclass (like DCP's CheckpointException)."""


def _dcp_failing_with(exc: BaseException) -> Any:
    def save(state_dict: Any, *, storage_writer: Any, **kwargs: Any) -> None:
        storage_writer.fs.mkdir(storage_writer.path)  # what a real failed write leaves: a torn directory
        raise exc

    return save


@pytest.mark.parametrize(
    "exc",
    [
        CheckpointException("write", {0: (OSError(28, "No space left on device"), None)}),
        NotAnException("boom"),
    ],
    ids=["CheckpointException", "other-BaseException"],
)
@pytest.mark.parametrize("async_save", [True, False], ids=["async", "sync"])
def test_a_base_exception_from_dcp_is_retried_reported_once_and_leaves_no_directory(
    exc: BaseException, async_save: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(str(tmp_path), async_save=async_save), {}, on_result=reported.append)
    monkeypatch.setattr(checkpointer_module.dcp, "save", _dcp_failing_with(exc))
    state, _ = make_state(tiny_model(), step=3)

    checkpointer.save(state)
    result = checkpointer.wait() if async_save else reported[-1]

    assert result is not None and not result.ok and result.step == 3
    assert result.attempts == 2  # the retry policy of ``config``: 2 attempts
    assert result.error is not None and type(exc).__name__ in result.error
    if isinstance(exc, CheckpointException):
        assert "rank 0: OSError" in result.error and "Traceback" not in result.error
    assert reported == [result]
    assert list(tmp_path.iterdir()) == []  # the torn step directory was removed
    assert latest_complete(str(tmp_path)) is None


def test_a_save_thread_that_raises_outside_the_save_still_ends_in_a_failed_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(str(tmp_path)), {}, on_result=reported.append)

    def broken(*args: Any, **kwargs: Any) -> SaveResult:
        raise NotAnException("the save job itself broke")

    monkeypatch.setattr(checkpointer, "_run_save", broken)
    state, _ = make_state(tiny_model(), step=4)
    checkpointer.save(state)
    result = checkpointer.wait()
    assert result is not None and not result.ok and result.step == 4
    assert result.error == "NotAnException: the save job itself broke"
    assert reported == [result]


def test_save_now_reports_a_final_save_that_raised_a_base_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[SaveResult] = []
    checkpointer = Checkpointer(config(str(tmp_path)), {}, on_result=reported.append)
    monkeypatch.setattr(
        checkpointer_module.dcp,
        "save",
        _dcp_failing_with(CheckpointException("write", {0: (OSError(28, "full"), None)})),
    )
    state, _ = make_state(tiny_model(), step=6)
    result = checkpointer.save_now(state, timeout_s=60)
    assert not result.ok and result.step == 6 and result.attempts == 2 and "CheckpointException" in (result.error or "")
    assert reported == [result]
