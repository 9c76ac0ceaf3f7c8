"""Fixtures of the end-to-end recovery tests: digits data, a private SEER_HOME, tiny jobs, S3."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration_support import SMALL_SET, LocalRun, make_subset, tiny_job, write_job
from object_store import FaultProxy, s3_env, start_moto


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart digits at 16 px (written once per session)."""
    from seer.trainer.data.digits import materialize_digits

    root = tmp_path_factory.mktemp("digits")
    materialize_digits(str(root), size=16)
    return root


@pytest.fixture(scope="session")
def small_data(digits: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:data:`SMALL_SET` training images, so an epoch is a handful of steps."""
    return make_subset(digits / "train", tmp_path_factory.mktemp("small") / "train", SMALL_SET)


@pytest.fixture
def seer_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "seer-home"
    home.mkdir()
    monkeypatch.setenv("SEER_HOME", str(home))
    return home


@pytest.fixture
def job_file(tmp_path: Path, small_data: Path) -> Callable[..., Path]:
    """``job_file(name, **spec_changes)`` writes a tiny job file and returns its path."""

    def make(name: str, **spec_changes: Any) -> Path:
        return write_job(tmp_path / f"{name}.yaml", tiny_job(name, small_data, **spec_changes))

    return make


@pytest.fixture
def local_run(seer_home: Path) -> Iterator[Callable[[str], LocalRun]]:
    """``local_run(name)``: a handle on a seerctl-managed run; its processes are killed at teardown."""
    runs: list[LocalRun] = []

    def make(name: str) -> LocalRun:
        run = LocalRun(home=seer_home, name=name)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.stop()


@pytest.fixture(scope="session")
def moto() -> Iterator[str]:
    """A real S3 API (moto_server) on loopback; yields its endpoint."""
    endpoint, process = start_moto()
    try:
        yield endpoint
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def s3_proxy(
    moto: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[FaultProxy, str]]:
    """A fresh bucket on moto and a fault proxy in front of it; AWS_* point at the proxy.

    Yields ``(proxy, "s3://bucket")``.
    """
    import s3fs

    env = s3_env(moto)
    bucket = "it-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    s3fs.S3FileSystem(
        key=env["AWS_ACCESS_KEY_ID"], secret=env["AWS_SECRET_ACCESS_KEY"], endpoint_url=moto, skip_instance_cache=True
    ).mkdir(bucket)
    proxy = FaultProxy(int(moto.rsplit(":", 1)[1]))
    for name, value in s3_env(proxy.endpoint).items():
        monkeypatch.setenv(name, value)
    try:
        yield proxy, f"s3://{bucket}"
    finally:
        proxy.close()
