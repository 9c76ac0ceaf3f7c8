"""S3-compatible stores (MinIO, R2) and GCS through the options the trainer builds from its env.

S3: against moto_server, with the request URLs botocore sends recorded, so the test sees
which addressing style reached the client (path: ``endpoint/bucket/key``; virtual:
``bucket.endpoint/key``). GCS: gcsfs itself loads the service-account key file named by
``GOOGLE_APPLICATION_CREDENTIALS`` (the file the operator mounts from the Secret); no GCS
API emulator (fake-gcs-server) is available here, so no object goes through GCS.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import fsspec
import pytest
import s3fs
from botocore.exceptions import EndpointConnectionError

from seer.trainer.storage import redact, storage_options_from_env

pytestmark = pytest.mark.services


def _bucket(endpoint: str, env: dict[str, str], name: str) -> str:
    fs = s3fs.S3FileSystem(
        key=env["AWS_ACCESS_KEY_ID"],
        secret=env["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=endpoint,
        skip_instance_cache=True,
    )
    fs.mkdir(name)
    return name


def _recording_fs(url: str, env: dict[str, str]) -> tuple[s3fs.S3FileSystem, list[str]]:
    """The filesystem the trainer would open for ``url``, recording every request URL."""
    fs, _ = fsspec.core.url_to_fs(url, **storage_options_from_env(url, env), skip_instance_cache=True)
    fs.connect()
    sent: list[str] = []
    fs.s3.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    return fs, sent


def _localhost_env(moto_env: dict[str, str], endpoint: str, style: str) -> tuple[str, dict[str, str]]:
    # ``localhost`` rather than the IP: botocore never sends virtual-hosted requests to an IP.
    port = urlsplit(endpoint).port
    local = f"http://localhost:{port}"
    return local, {**moto_env, "AWS_ENDPOINT_URL": local, "AWS_REGION": "eu-west-1", "SEER_S3_ADDRESSING_STYLE": style}


def test_path_style_addressing_reaches_the_client_and_round_trips_through_moto(moto_server) -> None:
    endpoint, env = _localhost_env(moto_server.env, moto_server.endpoint, "path")
    bucket = _bucket(moto_server.endpoint, moto_server.env, "path-style-bucket")
    fs, sent = _recording_fs(f"s3://{bucket}/run", env)
    assert fs.s3.meta.config.s3 == {"addressing_style": "path"}
    fs.pipe(f"{bucket}/run/x.bin", b"payload")
    assert fs.cat(f"{bucket}/run/x.bin") == b"payload"
    assert sent and all(url.startswith(f"{endpoint}/{bucket}/") for url in sent), sent


def test_virtual_style_addressing_puts_the_bucket_in_the_host_name(moto_server) -> None:
    endpoint, env = _localhost_env(moto_server.env, moto_server.endpoint, "virtual")
    bucket = _bucket(moto_server.endpoint, moto_server.env, "virtual-style-bucket")
    fs, sent = _recording_fs(f"s3://{bucket}/run", env)
    try:  # ``<bucket>.localhost`` may not resolve here: the request URL is what is under test
        fs.cat(f"{bucket}/run/missing")
    except (FileNotFoundError, EndpointConnectionError):
        pass
    assert sent and urlsplit(sent[0]).hostname == f"{bucket}.localhost", sent


def test_auto_addressing_adds_no_client_setting_and_a_bad_value_names_the_field() -> None:
    assert "config_kwargs" not in storage_options_from_env("s3://b", {"SEER_S3_ADDRESSING_STYLE": "auto"})
    with pytest.raises(ValueError, match="addressingStyle"):
        storage_options_from_env("s3://b", {"SEER_S3_ADDRESSING_STYLE": "sideways"})


def _service_account_key(path: Path) -> str:
    """A syntactically real service-account key (fresh RSA key; no Google account behind it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    email = "seer-test@seer-project.iam.gserviceaccount.com"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "seer-project",
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": email,
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return email


def test_gcs_uses_the_mounted_service_account_key_file(tmp_path: Path) -> None:
    import gcsfs

    key_file = tmp_path / "gcs-service-account.json"  # the operator's mount: GCS_CREDENTIALS_DIR/GCS_SECRET_KEY
    email = _service_account_key(key_file)
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file), "GOOGLE_CLOUD_PROJECT": "seer-project"}
    options = storage_options_from_env("gs://bucket/run", env)
    fs, path = fsspec.core.url_to_fs("gs://bucket/run", **options, skip_instance_cache=True)
    assert isinstance(fs, gcsfs.GCSFileSystem) and path == "bucket/run"
    assert fs.project == "seer-project"
    assert fs.credentials.credentials.service_account_email == email
    assert str(key_file) not in repr(options) and redact(options)["token"] == "***"


def test_gcs_without_a_key_file_leaves_credentials_to_workload_identity() -> None:
    # No GOOGLE_APPLICATION_CREDENTIALS: gcsfs's default chain (the GKE metadata server) decides.
    assert storage_options_from_env("gs://bucket/run", {"GOOGLE_CLOUD_PROJECT": "p"}) == {"project": "p"}
