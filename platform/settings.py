"""User settings of seerctl: which scheduler by default, and the cluster to use.

Read from ``$SEER_HOME/config.yaml`` (optional) and overridden by the environment
(``SEER_SCHEDULER``, ``SEER_KUBE_CONTEXT``, ``SEER_NAMESPACE``) and then by flags::

    scheduler: kubernetes      # local (default) or kubernetes
    kubeContext: my-cluster    # default: the kubeconfig's current context
    namespace: training        # default: the job file's metadata.namespace
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import yaml

from seer.platform.runs import seer_home

SCHEDULERS = ("local", "kubernetes")


@dataclass(frozen=True)
class Settings:
    scheduler: str = "local"
    kube_context: str | None = None
    namespace: str | None = None


def load_settings() -> Settings:
    path = seer_home() / "config.yaml"
    data: dict = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} must be a mapping of settings")
        unknown = set(loaded) - {"scheduler", "kubeContext", "namespace"}
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}; valid: scheduler, kubeContext, namespace")
        data = loaded
    scheduler = os.environ.get("SEER_SCHEDULER") or data.get("scheduler") or "local"
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler {scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    return Settings(
        scheduler=scheduler,
        kube_context=os.environ.get("SEER_KUBE_CONTEXT") or data.get("kubeContext"),
        namespace=os.environ.get("SEER_NAMESPACE") or data.get("namespace"),
    )
