"""The operator runs without TorchX and rich: it builds pods from ``seer.platform.worker``,
not from a TorchX AppDef (docs/architecture.md, "The worker contract")."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from import_blocker import blocking_prelude

SCRIPT = blocking_prelude("torchx", "rich") + textwrap.dedent(
    """
    import importlib, json

    for module in ("seer.operators.handlers", "seer.operators.main", "seer.operators.reconciler"):
        importlib.import_module(module)
    from seer.operators.children import worker_pod
    from seer.platform.spec import SeerJob

    pod = worker_pod(SeerJob.model_validate({"metadata": {"name": "j"}}), "uid", 0, 0)
    print(json.dumps({"command": pod["spec"]["containers"][0]["command"][:1],
                      "leaked": sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))}))
    """
)


def test_the_operator_imports_and_builds_pods_with_torchx_and_rich_blocked():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"command": ["torchrun"], "leaked": []}


def test_importing_the_operators_entry_point_registers_no_handlers():
    """Importing ``seer.operators.main`` (for its parser, as the chart tests do) must not import
    the kopf handlers: that registers them and fixes the resync interval from the environment
    at that moment — a test suite importing it early made every later operator test wait 30 s
    resyncs instead of 1 s."""
    script = "import sys, seer.operators.main; print('seer.operators.handlers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"
