"""Threads per worker process follow the pod's CPU request on Kubernetes, never the
machine that builds the manifest: a 500m pod gets one thread, not the operator node's
core count (on this 2-core CI machine the old fallback gave a 500m pod 2 threads)."""

from __future__ import annotations

import pytest

from seer.platform.loading import validate_document
from seer.platform.worker import pod_cpus, worker_env


def job(cpu: str, procs: int = 1):
    spec = {"resources": {"cpu": cpu, "procsPerNode": procs}, "checkpoint": {"url": "s3://b/x/"}}
    return validate_document(
        {"apiVersion": "seer.dev/v1alpha1", "kind": "SeerJob", "metadata": {"name": "t"}, "spec": spec}
    )


@pytest.mark.parametrize(
    ("cpu", "procs", "cores", "threads"), [("500m", 1, 1, "1"), ("8", 2, 8, "4"), ("1", 4, 1, "1")]
)
def test_threads_follow_the_pod_request(cpu: str, procs: int, cores: int, threads: str) -> None:
    j = job(cpu, procs)
    assert pod_cpus(j) == cores
    assert worker_env(j, target="kubernetes")["OMP_NUM_THREADS"] == threads
