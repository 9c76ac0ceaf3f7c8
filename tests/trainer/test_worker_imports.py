"""A worker starts without the control-plane libraries: the trainer imports nothing from
torchx, kubernetes, kopf or rich (a worker image may not ship them; docs/architecture.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from import_blocker import blocking_prelude

BLOCKED = ("torchx", "kubernetes", "kopf", "rich")

# Runs in a fresh interpreter so no earlier test has imported the blocked packages.
SCRIPT = blocking_prelude(*BLOCKED) + textwrap.dedent(
    """
    import importlib, json, os

    blocked_really = []
    for name in BLOCKED:
        try:
            importlib.import_module(name)
        except ImportError:
            blocked_really.append(name)

    # The entry point, and every module it imports lazily on its way to train().
    for module in ("seer.trainer.entrypoint", "seer.trainer.runtime", "seer.trainer.reporting",
                   "seer.trainer.metrics", "seer.trainer.preemption", "seer.trainer.loop"):
        importlib.import_module(module)

    # A worker without a job goes all the way to its exit record.
    os.environ.pop("SEER_JOB_SPEC", None)
    from seer.trainer.entrypoint import main
    code = main([])
    leaked = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
    print(json.dumps({"blocked": blocked_really, "code": code, "leaked": leaked}))
    """
)


def test_the_worker_imports_and_runs_with_torchx_kubernetes_kopf_and_rich_blocked(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env={"SEER_RUN_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["blocked"] == list(BLOCKED), "the finder must really block each package"
    assert result["leaked"] == []
    assert result["code"] == 2  # no job: the worker's "invalid job" exit, reached without those packages
    assert json.loads((tmp_path / "exits" / "attempt-1" / "rank-0.json").read_text())["exit_code"] == 2
