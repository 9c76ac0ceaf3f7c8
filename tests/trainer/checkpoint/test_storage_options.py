"""Storage options come from the environment and never show credentials when printed."""

from __future__ import annotations

import logging

import pytest

from seer.trainer.storage import Secret, protocol_of, redact, storage_options_from_env

ENV = {
    "AWS_ENDPOINT_URL": "http://minio:9000",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY",
    "AWS_SECRET_ACCESS_KEY": "very-secret-value",
    "AWS_SESSION_TOKEN": "session-token-value",
    "AWS_REGION": "eu-west-1",
}


def test_s3_options_are_built_from_aws_variables() -> None:
    options = storage_options_from_env("s3://bucket/run", ENV)
    assert options == {
        "endpoint_url": "http://minio:9000",
        "key": "AKIAEXAMPLEKEY",
        "secret": "very-secret-value",
        "token": "session-token-value",
        "client_kwargs": {"region_name": "eu-west-1"},
    }


def test_service_specific_endpoint_wins_and_default_region_is_a_fallback() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://general",
        "AWS_ENDPOINT_URL_S3": "http://s3-only",
        "AWS_DEFAULT_REGION": "us-west-2",
    }
    options = storage_options_from_env("s3://b", env)
    assert options == {"endpoint_url": "http://s3-only", "client_kwargs": {"region_name": "us-west-2"}}


def test_unset_credentials_leave_the_client_credential_chain_alone() -> None:
    assert storage_options_from_env("s3://b", {"AWS_ACCESS_KEY_ID": "only-the-key"}) == {}


@pytest.mark.parametrize("url", ["/local/path", "file:///local/path", "relative/dir", "memory://x"])
def test_non_cloud_urls_get_no_options(url: str) -> None:
    assert storage_options_from_env(url, ENV) == {}


def test_gcs_options_use_the_service_account_file() -> None:
    env = {"GOOGLE_APPLICATION_CREDENTIALS": "/var/secrets/sa.json", "GOOGLE_CLOUD_PROJECT": "proj"}
    assert storage_options_from_env("gs://bucket/x", env) == {"token": "/var/secrets/sa.json", "project": "proj"}


@pytest.mark.parametrize(
    ("url", "protocol"),
    [("s3://b/k", "s3"), ("s3a://b", "s3"), ("gcs://b", "gs"), ("/p", "file"), ("file:///p", "file")],
)
def test_protocol_of(url: str, protocol: str) -> None:
    assert protocol_of(url) == protocol


def test_printing_or_logging_the_options_never_shows_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    options = storage_options_from_env("s3://bucket/run", ENV)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("options: %s", options)
    for text in (repr(options), str(options), f"{options}", caplog.text):
        assert "very-secret-value" not in text
        assert "AKIAEXAMPLEKEY" not in text
        assert "session-token-value" not in text
    assert "http://minio:9000" in repr(options)


def test_secrets_still_work_as_plain_strings_for_clients() -> None:
    secret = Secret("abc")
    assert secret == "abc" and secret.encode() == b"abc" and isinstance(secret, str)


def test_different_secrets_have_different_reprs_so_fsspec_caches_do_not_mix_credentials() -> None:
    assert repr(Secret("one")) != repr(Secret("two"))


def test_redact_masks_credentials_recursively() -> None:
    options = {"key": "plain-key", "client_kwargs": {"aws_secret_access_key": "s"}, "endpoint_url": "http://e"}
    assert redact(options) == {
        "key": "***",
        "client_kwargs": {"aws_secret_access_key": "***"},
        "endpoint_url": "http://e",
    }
