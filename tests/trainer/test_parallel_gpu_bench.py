"""``bench/gpu.sh --smoke`` runs the GPU benchmark's code end to end on CPU (tiny model),
with pydantic, torchx, kubernetes, kopf and rich made unimportable: the GPU machine has
only torch and this repository."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCKER = """
import importlib.abc, sys

BLOCKED = ("pydantic", "torchx", "kubernetes", "kopf", "rich", "torchvision")

class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, _Blocked())
"""


@pytest.mark.slow
def test_smoke_mode_runs_every_row_without_the_platform_dependencies(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu.sh"), "--smoke", "--json", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    result = json.loads(out.read_text())
    rows = {(r["mode"], r["impl"]): r for r in result["rows"]}
    for key in [
        ("eager", "seer"),
        ("eager", "plain"),
        ("eager", "seer-fsdp"),
        ("compiled", "seer"),
        ("compiled", "plain"),
    ]:
        assert rows[key]["images_per_s"] > 0, key
    assert rows[("eager", "seer")]["parallelism"] == "none" and rows[("eager", "seer-fsdp")]["parallelism"] == "fsdp"
    assert rows[("compiled", "seer")]["compile_s"] > 0
    assert (
        "blocked" in rows[("eager", "torchvision")]["note"] or "torchvision" in rows[("eager", "torchvision")]["note"]
    )
    assert {s["mode"] for s in result["summary"]} == {"eager", "compiled"}
    assert all(s["seer_over_plain"] > 0 for s in result["summary"])
    assert "seer / plain" in proc.stdout
