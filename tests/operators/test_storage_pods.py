"""How a worker pod reaches its object store: S3-compatible settings as env, AWS keys as
``secretKeyRef``s, a GCS service-account key as a file mounted from the Secret, and nothing
mounted for workload identity. The trainer side of the same mapping is tested in
tests/trainer/checkpoint/test_s3_compatible_and_gcs.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from seer.operators.children import worker_pod
from seer.platform.contract import GCS_CREDENTIALS_DIR, GCS_SECRET_KEY
from seer.platform.spec import SeerJob
from seer.platform.worker import worker_env

UID = "0d9b5a1e-1111-2222-3333-444455556666"


def _job(storage: dict[str, Any], url: str = "s3://ckpt/run", sources: list[str] | None = None) -> SeerJob:
    return SeerJob.model_validate(
        {
            "metadata": {"name": "store", "namespace": "research"},
            "spec": {
                "storage": storage,
                "checkpoint": {"url": url},
                "data": {"sources": sources or [url.rsplit("/", 1)[0] + "/images/"]},
            },
        }
    )


def _container(job: SeerJob) -> dict[str, Any]:
    return worker_pod(job, UID, 0, 0)["spec"]["containers"][0]


def _env(job: SeerJob) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in _container(job)["env"]}


def test_minio_path_style_endpoint_and_region_reach_the_worker_env():
    job = _job({"secretName": "minio", "endpointUrl": "http://minio:9000", "region": "auto", "addressingStyle": "path"})
    env = _env(job)
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000" and env["AWS_REGION"]["value"] == "auto"
    assert env["SEER_S3_ADDRESSING_STYLE"]["value"] == "path"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "minio", "key": "AWS_ACCESS_KEY_ID"}
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env
    # Locally the same setting comes from the same function.
    assert worker_env(job, target="local", run_dir=Path("/r"))["SEER_S3_ADDRESSING_STYLE"] == "path"


def test_auto_addressing_sets_no_variable():
    assert "SEER_S3_ADDRESSING_STYLE" not in _env(_job({"secretName": "s3"}))


def test_gcs_with_a_secret_mounts_only_the_key_file_and_points_google_credentials_at_it():
    job = _job({"secretName": "gcs-creds"}, url="gs://ckpt/run")
    pod = worker_pod(job, UID, 0, 0)
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == f"{GCS_CREDENTIALS_DIR}/{GCS_SECRET_KEY}"
    assert not any(name.startswith("AWS_ACCESS") or name.startswith("AWS_SECRET") for name in env)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == GCS_CREDENTIALS_DIR)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "gcs-creds"
    assert volume["secret"]["items"] == [{"key": GCS_SECRET_KEY, "path": GCS_SECRET_KEY}]


def test_gcs_with_workload_identity_mounts_nothing():
    job = _job({}, url="gs://ckpt/run")
    pod = worker_pod(job, UID, 0, 0)
    container = pod["spec"]["containers"][0]
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in {e["name"] for e in container["env"]}
    assert all("secret" not in v for v in pod["spec"]["volumes"])
    assert all(m["mountPath"] != GCS_CREDENTIALS_DIR for m in container["volumeMounts"])


def test_a_job_on_both_stores_gets_aws_keys_and_the_gcs_key_file():
    job = _job({"secretName": "both"}, url="gs://ckpt/run", sources=["s3://data/images/"])
    env = _env(job)
    assert "AWS_ACCESS_KEY_ID" in env and "GOOGLE_APPLICATION_CREDENTIALS" in env


@pytest.mark.parametrize("version", ["1.29", "1.37"])
@pytest.mark.parametrize("url", ["gs://ckpt/run", "s3://ckpt/run"])
def test_storage_pods_pass_kubernetes_validate(version, url):
    job = _job({"secretName": "creds", "endpointUrl": "http://minio:9000", "addressingStyle": "path"}, url=url)
    kubernetes_validate.validate(worker_pod(job, UID, 0, 0), version, strict=True)
