"""SeerJob -> TorchX AppDef, for ``seerctl`` (local runs) and ``torchx run`` users (pure).

The command line and environment come from ``seer.platform.worker`` (the one place that
knows how a worker is launched, shared with the operator); this module only wraps them
in TorchX's types. Both schedulers take the AppDef: ``local_cwd`` starts
``python -m torch.distributed.run ... -m seer.trainer`` on this machine, and our
``kubernetes`` scheduler turns it into a SeerJob custom resource, whose pods the
operator builds from the same ``seer.platform.worker`` functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torchx import specs

from seer.platform.contract import ANNOTATION_SPEC_HASH
from seer.platform.spec import SeerJob
from seer.platform.worker import Target, local_command, pod_cpus, torchrun_args, worker_env, worker_image

ROLE = "trainer"


def build_appdef(
    job: SeerJob,
    *,
    target: Target = "local",
    run_dir: Path | None = None,
    restart_count: int = 0,
    attempt: int = 1,
    python: str = sys.executable,
    cpus: int | None = None,
) -> specs.AppDef:
    """The AppDef for ``job``. ``run_dir`` is required for local runs (logs, progress)."""
    resources = job.spec.resources
    env = worker_env(job, target=target, restart_count=restart_count, run_dir=run_dir, attempt=attempt, cpus=cpus)
    if target == "local":
        entrypoint, *args = local_command(job, python)
        image = str(Path.cwd())
    else:
        entrypoint, image = "torchrun", worker_image(job)
        args = torchrun_args(job, target)
    mem_mb = _quantity_to_mb(resources.memory)
    port_map = {"metrics": job.spec.metrics.port} if job.spec.metrics.enabled and job.spec.metrics.port else {}
    role = specs.Role(
        name=ROLE,
        image=image,
        entrypoint=entrypoint,
        args=args,
        env=env,
        num_replicas=1 if target == "local" else resources.nodes.max,
        min_replicas=None if target == "local" else resources.nodes.min,
        max_retries=0,
        resource=specs.Resource(cpu=pod_cpus(job), gpu=resources.gpus_per_node, memMB=mem_mb),
        port_map=port_map,
    )
    return specs.AppDef(name=job.name, roles=[role], metadata={ANNOTATION_SPEC_HASH: job.spec_hash()})


_UNITS = {
    "": 1 / 2**20,
    "k": 1e3 / 2**20,
    "Ki": 1 / 1024,
    "M": 1e6 / 2**20,
    "Mi": 1,
    "G": 1e9 / 2**20,
    "Gi": 1024,
    "T": 1e12 / 2**20,
    "Ti": 2**20,
}


def _quantity_to_mb(quantity: str) -> int:
    """A Kubernetes memory quantity ('16Gi', '500M') in MiB, as TorchX's Resource wants."""
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if suffix and quantity.endswith(suffix):
            return max(1, int(float(quantity[: -len(suffix)]) * _UNITS[suffix]))
    return max(1, int(float(quantity) * _UNITS[""]))
