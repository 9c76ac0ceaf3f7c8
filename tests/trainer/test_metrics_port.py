"""The worker's metrics exporter on a port that is taken: it serves on a free one instead."""

from __future__ import annotations

import socket
import urllib.request

from seer.trainer.metrics import TrainerMetrics


def test_serve_on_a_busy_port_binds_a_free_one_that_answers():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        metrics = TrainerMetrics.create("job", 0)
        metrics.step.set(7)
        bound = metrics.serve(busy, addr="127.0.0.1")
        assert bound != busy and bound > 0
        body = urllib.request.urlopen(f"http://127.0.0.1:{bound}/metrics", timeout=30).read().decode()
        assert 'seer_train_step{rank="0",seer_job="job"} 7.0' in body


def test_serve_on_a_free_port_keeps_it():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert TrainerMetrics.create("job", 0).serve(free, addr="127.0.0.1") == free
