"""The checkpoint storage fills up during a run (issue 12, item 1).

``torch.distributed.checkpoint`` reports a failed write as ``CheckpointException``, a
``BaseException``: every such save must still end in one reported ``SaveResult`` (an
``ERROR`` log line, ``seer_checkpoint_save_failures_total``, a ``checkpoint_failed`` event),
be retried, leave no torn ``step-*`` directory, and a final checkpoint that cannot be
written must not let the run end as if it had succeeded.

The full disk is ``full_disk.QuotaFileSystem`` (a local directory with a byte quota: a
write past it raises ``ENOSPC``, as a full tmpfs does). ``train()`` runs in this process
(one rank, fp32) so the test can fill the disk between two steps by wrapping the loader
the loop builds; the worker's exit code is checked through ``python -m seer.trainer``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import full_disk
import pytest
from integration_support import HANG_GUARD_S, REPO, LocalRun, join_checkpoint_saves, quiet_env, tiny_job, write_job

import seer.trainer.components as components
import seer.trainer.loop as loop
from seer.platform.loading import validate_document
from seer.platform.restart_policy import BUDGET_SPENT, PREEMPTED
from seer.trainer.checkpoint import latest_complete
from seer.trainer.metrics import TrainerMetrics
from seer.trainer.runtime import Runtime


class FillsUpBefore:
    """Loader wrapper: before step ``full_at`` (1-based) trains, the disk is full (once earlier saves ended)."""

    def __init__(self, inner: Any, full_at: int) -> None:
        self.inner, self.full_at = inner, full_at

    def __iter__(self) -> Iterator[Any]:
        for step, batch in enumerate(self.inner, start=1):
            if step == self.full_at:
                join_checkpoint_saves()
                full_disk.fill_up()
            yield batch


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")
@pytest.mark.parametrize("async_save", [True, False], ids=["async", "sync"])
def test_a_full_disk_fails_saves_visibly_cleans_up_and_the_final_failure_ends_the_run_unsuccessfully(
    async_save: bool,
    small_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = tmp_path / "disk"
    root.mkdir()
    url = full_disk.install(str(root), quota=2**40)
    # 1 rank, 20 steps: saves after steps 4 (committed), 8, 12, 16 (disk full) and the final one at 20.
    job = validate_document(
        tiny_job(
            "fulldisk",
            small_data,
            optim={"epochs": 1},
            checkpoint={"url": url, "intervalSteps": 4, "keepLast": 3, "asyncSave": async_save},
        )
    )
    real_build_loader = components.build_loader
    monkeypatch.setattr(components, "build_loader", lambda *a, **kw: FillsUpBefore(real_build_loader(*a, **kw), 5))
    # NOTE: one DCP writer thread. With several, DCP raises on the first ENOSPC while its other
    # writer threads may still create files after the failed save's directory was removed (a
    # torn directory then waits for the next commit's collection): a known limit, in
    # docs/checkpoints.md; this test checks the reporting and cleanup without that race.
    real_from_spec = components.CheckpointConfig.from_spec
    monkeypatch.setattr(
        components.CheckpointConfig,
        "from_spec",
        lambda *a, **kw: dataclasses.replace(real_from_spec(*a, **kw), thread_count=1),
    )
    metrics = TrainerMetrics.create("fulldisk", 0)
    runtime = Runtime(rank=0, local_rank=0, world_size=1, run_dir=tmp_path, restart_count=0, attempt=1)

    raised: BaseException | None = None
    with caplog.at_level(logging.WARNING, logger="seer.trainer"):
        try:
            loop.train(job, runtime, metrics=metrics)
        except Exception as exc:  # noqa: BLE001 - asserted below, after what was reported
            raised = exc
    join_checkpoint_saves()

    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["type"] == "checkpoint"] == [4]
    failed = [e for e in events if e["type"] == "checkpoint_failed"]
    assert [e["step"] for e in failed] == [8, 12, 16, 20], events
    assert all("CheckpointException" in e["error"] for e in failed)
    failures = metrics.registry.get_sample_value(
        "seer_checkpoint_save_failures_total", {"seer_job": "fulldisk", "rank": "0"}
    )
    assert failures == 4
    messages = [r.getMessage() for r in caplog.records]
    for step in (8, 12, 16, 20):
        assert sum(m.startswith(f"checkpoint step {step} FAILED") for m in messages) == 1, messages
        # the retry policy ran: 3 attempts, the first two logged as retried
        assert any(m.startswith(f"checkpoint step {step} attempt 2 failed") for m in messages)
    # No torn directory is left behind, and the committed checkpoint is the one resumed from.
    assert sorted(p.name for p in root.iterdir()) == ["step-00000004"]
    info = latest_complete(url)
    assert info is not None and info.step == 4
    # The run did not end as if it had succeeded: no `end` event, and train() says why.
    assert not [e for e in events if e["type"] == "end"]
    from seer.trainer.checkpoint import CheckpointNotSaved

    assert isinstance(raised, CheckpointNotSaved), raised
    assert raised.step == 20 and "step 20" in str(raised)


@pytest.mark.slow
def test_the_worker_exits_retryable_when_its_final_checkpoint_cannot_be_written(
    small_data: Path, tmp_path: Path
) -> None:
    """``python -m seer.trainer`` on a disk that is full from the start: exit 75 and an exit record naming the step."""
    root = tmp_path / "disk"
    root.mkdir()
    url = f"{full_disk.PROTOCOL}://{root}"
    job = write_job(
        tmp_path / "job.yaml",
        tiny_job(
            "fullworker",
            small_data,
            optim={"epochs": 1},
            checkpoint={"url": url, "intervalSteps": 100, "asyncSave": False},
            metrics={"enabled": False},
        ),
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = quiet_env({**full_disk.env_for(str(root), quota=0), "SEER_RUN_DIR": str(run_dir)})
    proc = subprocess.run(
        [sys.executable, "-m", "seer.trainer", "--job", str(job)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 75, proc.stderr[-4000:]
    record = json.loads((run_dir / "exits" / "attempt-1" / "rank-0.json").read_text())
    assert record["exit_code"] == 75
    assert "final checkpoint" in record["reason"] and "step 20" in record["reason"], record
    assert list(root.iterdir()) == []


@pytest.mark.slow
def test_a_job_whose_final_checkpoint_never_commits_is_retried_then_failed_never_succeeded(
    job_file: Callable[..., Path],
    local_run: Callable[[str], LocalRun],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real ``seerctl submit``, supervisor and torchrun on a checkpoint disk that is full from the start."""
    root = tmp_path / "disk"
    root.mkdir()
    for name, value in full_disk.env_for(str(root), quota=0).items():
        monkeypatch.setenv(name, value)  # inherited by seerctl, the supervisor, torchrun and the worker
    path = job_file(
        "fullfinal",
        optim={"epochs": 1},
        checkpoint={"url": f"{full_disk.PROTOCOL}://{root}", "intervalSteps": 100},
        restart={"maxRestarts": 1, "backoffSeconds": 0.2},
    )
    run = local_run("fullfinal")
    run.seerctl("submit", str(path))
    state = run.wait_until_final()

    assert state["phase"] == "Failed", run.diagnostics()
    assert state["reason"] == BUDGET_SPENT and state["restarts"] == 1, run.diagnostics()
    assert state["restart_reasons"] == [PREEMPTED], run.diagnostics()  # exit 75: retryable
    events = run.events()
    assert [e["step"] for e in events if e["type"] == "checkpoint_failed"] == [20, 20]
    assert not [e for e in events if e["type"] in ("end", "checkpoint")]
    assert list(root.iterdir()) == []
