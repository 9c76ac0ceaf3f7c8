"""Prometheus scraping a REAL training worker (not a simulation): the trainer's series
exist with the job's labels and move while it trains, and its exposition passes
`promtool check metrics`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
from prometheus_server import Prometheus, running_prometheus
from tiny_jobs import tiny_spec

pytestmark = [pytest.mark.services, pytest.mark.slow]

JOB = "prom-real"


@pytest.fixture(scope="module")
def training_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 1-process trainer on a tiny model, running until the test module is done; yields host:port."""
    from seer.trainer.data import materialize_digits

    tmp = tmp_path_factory.mktemp("realjob")
    materialize_digits(str(tmp / "digits"), size=16)
    job = {
        "metadata": {"name": JOB},
        "spec": tiny_spec(
            optim={"epochs": 1000, "warmupEpochs": 0},
            data={"sources": [str(tmp / "digits" / "train")], "batchSize": 8, "loaderWorkers": 0},
            checkpoint={"intervalSteps": 5, "keepLast": 1},
            resources={"device": "cpu"},
            training={"precision": "fp32", "logEverySteps": 5},
            metrics={"port": 0},
        ),
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(job))
    run_dir = tmp / "run"
    run_dir.mkdir()
    env = {**os.environ, "SEER_RUN_DIR": str(run_dir), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "seer.trainer", "--job", str(tmp / "job.yaml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "worker.log").open("w"),
    )
    endpoint = run_dir / "pids" / "rank-0.json"
    deadline = time.monotonic() + 120
    while not endpoint.exists():
        assert proc.poll() is None, (tmp / "worker.log").read_text()
        assert time.monotonic() < deadline, "the worker never started its exporter"
        time.sleep(0.2)
    port = json.loads(endpoint.read_text())["metrics_port"]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)  # preemption path: final checkpoint, exit 75
        try:
            assert proc.wait(timeout=60) == 75
        finally:
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, training_worker: str) -> Iterator[Prometheus]:
    scrape = [{"job_name": "seer-trainer", "static_configs": [{"targets": [training_worker]}]}]
    with running_prometheus(tmp_path_factory.mktemp("prom"), scrape) as server:
        yield server


def _total(prom: Prometheus, expr: str) -> float:
    return sum(float(r["value"][1]) for r in prom.query(expr))


def test_the_real_trainer_series_exist_and_move(prometheus: Prometheus):
    images = f'seer_train_images_total{{seer_job="{JOB}",rank="0"}}'
    prometheus.wait_for("a first sample", lambda: bool(prometheus.query(images)))
    first = _total(prometheus, images)
    prometheus.wait_for("the images counter to increase", lambda: _total(prometheus, images) > first)
    prometheus.wait_for(
        "step-time observations",
        lambda: _total(prometheus, f'seer_train_step_duration_seconds_count{{seer_job="{JOB}"}}') > 0,
    )
    prometheus.wait_for(
        "a committed checkpoint", lambda: _total(prometheus, f'seer_checkpoint_last_step{{seer_job="{JOB}"}}') >= 5
    )
    step = _total(prometheus, f'seer_train_step{{seer_job="{JOB}"}}')
    loss = _total(prometheus, f'seer_train_loss{{seer_job="{JOB}"}}')
    assert step >= 5 and 0 < loss < 100


def test_the_real_exposition_passes_promtool(training_worker: str, promtool: str):
    with urllib.request.urlopen(f"http://{training_worker}/metrics", timeout=10) as r:
        exposition = r.read()
    assert b"seer_train_step_duration_seconds_bucket" in exposition
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
