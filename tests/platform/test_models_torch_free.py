"""``seerctl models`` and the model math it uses run without torch (the platform must
not import the trainer): checked in a fresh interpreter where importing torch fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, sys

    class _NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch.") or name.startswith("seer.trainer"):
                raise ImportError(f"blocked in this test: {name}")
            return None

    sys.meta_path.insert(0, _NoTorch())
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK_TORCH + textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_the_blocker_really_blocks_torch() -> None:
    proc = _run("import torch")
    assert proc.returncode != 0 and "blocked in this test: torch" in proc.stderr


def test_seerctl_models_runs_with_torch_blocked() -> None:
    proc = _run(
        """
        from seer.platform.cli import main
        sys.exit(main(["models", "-o", "json"]))
        """
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["name"] for r in rows} >= {"regnety_16gf", "regnety_256gf"}


def test_seerctl_models_sizes_a_job_with_torch_blocked() -> None:
    proc = _run(
        """
        from seer.platform.cli import main
        sys.exit(main(["models", "--batch", "64", "--gpu-memory", "141Gi", "--gpus", "16", "-o", "json"]))
        """
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    # 128GF at 64 fits one H200 replicated; 256GF at 64 only with activation checkpointing;
    # 10B needs its state sharded.
    assert (rows["regnety_128gf"]["parallelism"], rows["regnety_128gf"]["activation_checkpointing"]) == ("ddp", False)
    assert rows["regnety_256gf"]["activation_checkpointing"] is True
    assert rows["regnety_10b"]["parallelism"] in ("hsdp", "fsdp")
    assert rows["regnety_16gf"]["replicated_gib"] < rows["regnety_128gf"]["replicated_gib"]


def test_seerctl_models_rejects_a_bad_gpu_memory_naming_the_flag() -> None:
    proc = _run(
        """
        from seer.platform.cli import main
        sys.exit(main(["models", "--batch", "8", "--gpu-memory", "lots"]))
        """
    )
    assert proc.returncode == 2 and "--gpu-memory" in proc.stderr
