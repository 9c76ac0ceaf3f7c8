"""TorchX components of Seer (entry point group ``torchx.components``, prefix ``seer``).

NOTE: no ``from __future__ import annotations`` here: TorchX decodes command-line
arguments from the real annotation types, and string annotations defeat it.

``torchx run -s local_cwd seer.train --job_file examples/quickstart.yaml`` runs a
job without ``seerctl``; ``seerctl``'s local supervisor builds the same AppDef, and
Seer's own TorchX scheduler (``-s seer``) creates the same SeerJob ``seerctl submit -s
kubernetes`` does (``seer.platform.kube.resource``). Validation errors
surface as TorchX component errors carrying the same message ``seerctl`` prints.
"""

from pathlib import Path

from torchx import specs

from seer.platform.appdef import build_appdef
from seer.platform.loading import load_job


def train(job_file: str, target: str = "local", run_dir: str = "") -> specs.AppDef:
    """Self-supervised pretraining (RegNet + SwAV) described by a SeerJob file.

    Args:
        job_file: path of the YAML job file
        target: ``local`` (torchrun on this machine) or ``kubernetes`` (the Seer operator)
        run_dir: directory for logs and progress of a local run (default: ``$SEER_HOME/runs/<name>``)
    """
    job = load_job(job_file)
    if target not in ("local", "kubernetes"):
        raise ValueError(f"target must be 'local' or 'kubernetes', not {target!r}")
    if target == "local":
        from seer.platform.runs import RunDir

        local_run_dir = Path(run_dir) if run_dir else RunDir.for_job(job.name).path
        return build_appdef(job, target="local", run_dir=local_run_dir)
    return build_appdef(job, target="kubernetes")
