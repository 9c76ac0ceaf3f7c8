"""Installing Seer adds to TorchX and replaces nothing, checked with TorchX's own CLI.

torchx 0.7.0 uses only the registered entry points of a group once any package registers
one, so pyproject.toml registers TorchX's own components and schedulers again next to
Seer's (docs/architecture.md, "Dependency pins").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TORCHX = Path(sys.executable).parent / "torchx"


def torchx(*args: str) -> str:
    out = subprocess.run(
        [str(TORCHX), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def torchx_own_builtins() -> set[str]:
    """What TorchX lists when no package registers components: the valid components of its
    `torchx.components` modules (`torchx.specs.finder.get_components`' fallback)."""
    from torchx.specs.finder import ModuleComponentsFinder

    found = ModuleComponentsFinder("torchx.components", "").find()
    return {c.name for c in found if not c.validation_errors}


def test_torchx_builtins_lists_every_torchx_component_plus_seer_train():
    own = torchx_own_builtins()
    assert len(own) == 11 and {"dist.ddp", "dist.spmd", "utils.echo", "serve.torchserve"} <= own
    listed = set(re.findall(r"^\s*\d+\.\s+(\S+)\s*$", torchx("builtins"), flags=re.MULTILINE))
    assert listed == own | {"seer.train"}


def test_every_torchx_scheduler_keeps_its_name_order_and_default_and_seer_is_added():
    from torchx.schedulers import DEFAULT_SCHEDULER_MODULES, get_default_scheduler_name, get_scheduler_factories

    assert list(get_scheduler_factories()) == [*DEFAULT_SCHEDULER_MODULES, "seer"]
    assert get_default_scheduler_name() == next(iter(DEFAULT_SCHEDULER_MODULES))


def test_torchx_runopts_kubernetes_is_torchx_own_and_seer_is_seers():
    kubernetes = torchx("runopts", "kubernetes")
    assert "Volcano queue" in kubernetes and "SeerJob" not in kubernetes
    seer = torchx("runopts", "seer")
    assert "namespace of the SeerJob" in seer and "queue" not in seer


def test_the_seer_scheduler_reports_its_own_name():
    from seer.platform.kube.scheduler import create_scheduler

    assert create_scheduler("s").backend == "seer"
