"""A peer that vanishes without closing its connections must not block the survivors for
the backend's default (30 min for gloo): the worker's process group has the spec's
collective timeout, and the error it raises counts as a lost peer (retryable exit 75)."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from seer.platform.loading import validate_document
from seer.trainer.entrypoint import _init_process_group, _is_peer_failure


def _rank(rank: int, port: int, timeout_s: float, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK="0")
    _init_process_group("cpu", timeout_s)
    if rank == 1:  # joins, then stops answering (a hung or partitioned node)
        time.sleep(4 * timeout_s)
        return
    try:
        dist.all_reduce(torch.ones(1))
        results["outcome"] = "returned"
    except Exception as exc:  # noqa: BLE001 - the point is what it is
        results["outcome"] = "raised"
        results["peer_failure"] = _is_peer_failure(exc)


@pytest.mark.slow
def test_a_collective_waiting_for_a_silent_peer_fails_after_the_timeout_as_a_lost_peer() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    timeout_s = 3.0
    with mp.Manager() as manager:
        results = manager.dict()
        context = mp.get_context("spawn")
        procs = [context.Process(target=_rank, args=(r, port, timeout_s, results)) for r in (0, 1)]
        for p in procs:
            p.start()
        # Without the timeout rank 0 would wait 30 minutes; 120 s only bounds the test.
        procs[0].join(timeout=120)
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
        assert results.get("outcome") == "raised", dict(results)
        assert results["peer_failure"], "a timed-out collective must be classified as a lost peer (retryable)"


def test_the_spec_bounds_the_collective_timeout() -> None:
    doc = {"apiVersion": "seer.dev/v1alpha1", "kind": "SeerJob", "metadata": {"name": "t"}, "spec": {}}
    assert validate_document(doc).spec.training.collective_timeout_seconds == 600
