"""A metrics port already in use does not fail a local job (issue 12 item 5).

The real ``seerctl submit --wait``, supervisor, torchrun and worker; the port the job
asks for is held by a listening socket of this test. The worker serves its metrics on
another free port, says which in its log and in ``pids/rank-<r>.json``, and trains on.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from integration_support import LocalRun


@pytest.mark.slow
def test_a_busy_metrics_port_moves_to_a_free_one_and_says_which(
    job_file: Callable[..., Path], local_run: Callable[[str], LocalRun]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        path = job_file("portclash", optim={"maxSteps": 3}, metrics={"port": busy})
        run = local_run("portclash")
        done = run.seerctl("submit", str(path), "--wait", check=False)

        assert done.returncode == 0, done.stdout + done.stderr + run.diagnostics()
        assert run.state()["phase"] == "Succeeded", run.diagnostics()
        registration = json.loads((run.path / "pids" / "rank-0.json").read_text())
        moved = registration["metrics_port"]
        assert isinstance(moved, int) and moved not in (0, busy), registration
        rank_log = (run.path / "logs" / "rank-0.log").read_text()
        assert f"metrics port {busy} is in use" in rank_log and f":{moved}/metrics" in rank_log, rank_log
