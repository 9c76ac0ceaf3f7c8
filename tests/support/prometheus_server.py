"""Debian's Prometheus on 127.0.0.1 for tests: start, query through the HTTP API, stop.

Timing never decides an outcome: `wait_for` polls a condition up to a generous deadline.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

DEADLINE_S = 90.0


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary; its absence is a failure, not a skip (CI must have it).

    A fixture: the conftest modules of tests/charts and tests/platform/monitoring import it.
    """
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install Debian's Prometheus with `apt-get install -y prometheus`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    url: str

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", data
        return data["result"]

    def try_query(self, expr: str) -> tuple[bool, Any]:
        """(ok, result or the error text): the API answers 400 for invalid PromQL."""
        try:
            return True, self.query(expr)
        except urllib.error.HTTPError as e:
            return False, e.read().decode()

    def wait_for(self, what: str, condition: Callable[[], bool], deadline_s: float = DEADLINE_S) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        pytest.fail(f"Prometheus: {what} not reached within {deadline_s:.0f} s")


@contextmanager
def running_prometheus(
    workdir: Path, scrape_configs: list[dict[str, Any]], rule_files: list[str] = (), interval: str = "1s"
) -> Iterator[Prometheus]:
    """Start Prometheus with ``scrape_configs``; fails (not skips) when it is not installed."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: install Debian's Prometheus with `apt-get install -y prometheus`")
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": list(rule_files),
        "scrape_configs": scrape_configs,
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Prometheus(f"http://127.0.0.1:{port}")
        try:

            def ready() -> bool:
                assert process.poll() is None, f"prometheus exited: {log_path.read_text()}"
                try:
                    with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                        return r.status == 200
                except OSError:
                    return False

            server.wait_for("readiness", ready)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
