"""Fixtures: a real S3 API (moto_server) and a TCP proxy that can make it unreachable."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from object_store import FaultProxy, s3_env, start_moto


@dataclass
class MotoServer:
    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return s3_env(self.endpoint)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A real S3 API on 127.0.0.1 (in-memory; state lives as long as the process)."""
    endpoint, process = start_moto()
    try:
        yield MotoServer(endpoint=endpoint, process=process)
    finally:
        process.kill()
        process.wait(timeout=10)


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
