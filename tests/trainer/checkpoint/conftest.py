"""Fixtures: a real S3 API (moto_server) and a TCP proxy that can make it unreachable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MOTO_SERVER = Path(sys.executable).parent / "moto_server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def s3_env(endpoint: str) -> dict[str, str]:
    """The variables a worker gets from its Kubernetes Secret, pointed at a local endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing-key-id",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
        "AWS_REGION": "us-east-1",
        # Fail fast against a dead endpoint: the checkpointer's own retries are under test.
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }


@dataclass
class MotoServer:
    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return s3_env(self.endpoint)


def _wait_until_serving(endpoint: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited early with code {process.returncode}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not serve {endpoint} within {timeout_s} s")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A real S3 API on 127.0.0.1 (in-memory; state lives as long as the process)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(endpoint, process)
        yield MotoServer(endpoint=endpoint, process=process)
    finally:
        process.kill()
        process.wait(timeout=10)


class FaultProxy:
    """A TCP forwarder in front of the S3 endpoint that can go down and come back.

    Down: open connections are cut and new ones are closed on accept, which a
    client sees as an unavailable store (connection reset / closed), while the
    store behind keeps its data — unlike stopping the in-memory moto_server.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._up = True
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def down(self) -> None:
        self._up = False
        with self._lock:
            sockets, self._open = self._open, set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def up(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closed = True
        self.down()
        self._listener.close()


@pytest.fixture
def fault_proxy(moto_server: MotoServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(int(moto_server.endpoint.rsplit(":", 1)[1]))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def s3_bucket(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on moto, with the AWS_* variables of this test pointing at moto. Returns ``s3://bucket``."""
    import s3fs

    for name, value in moto_server.env.items():
        monkeypatch.setenv(name, value)
    bucket = "ckpt-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40] + f"-{os.getpid()}"
    fs = s3fs.S3FileSystem(
        key=moto_server.env["AWS_ACCESS_KEY_ID"],
        secret=moto_server.env["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=moto_server.endpoint,
        skip_instance_cache=True,
    )
    fs.mkdir(bucket)
    return f"s3://{bucket}"


def use_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> dict[str, Any]:
    """Point this test's AWS_ENDPOINT_URL at ``endpoint`` (e.g. the fault proxy) and return the env."""
    env = s3_env(endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
