"""A worker without a usable job exits 2 with an exit record (never retried as 'killed')."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seer.platform.loading import SpecError
from seer.platform.spec import SeerJob
from seer.trainer.runtime import Runtime, checkpoint_url, load_job_from_env


def test_no_job_is_a_spec_error(monkeypatch):
    monkeypatch.delenv("SEER_JOB_SPEC", raising=False)
    with pytest.raises(SpecError, match="SEER_JOB_SPEC"):
        load_job_from_env()


def test_a_cluster_worker_needs_a_checkpoint_url():
    job = SeerJob.model_validate({"metadata": {"name": "x"}})
    with pytest.raises(SpecError, match="checkpoint.url"):
        checkpoint_url(job, Runtime(rank=0, local_rank=0, world_size=1, run_dir=None, restart_count=0, attempt=1))


def test_the_worker_exits_2_and_records_why(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "SEER_JOB_SPEC"}
    env["SEER_RUN_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "seer.trainer"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    record = json.loads((tmp_path / "exits" / "attempt-1" / "rank-0.json").read_text())
    assert record["exit_code"] == 2
