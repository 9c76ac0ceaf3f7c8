"""Storage options for fsspec, read from the environment, safe to log.

Credentials reach a worker as environment variables (on Kubernetes from a
Secret through ``secretKeyRef``), never from the job file. This module turns
them into the plain ``storage_options`` dict that fsspec filesystems accept
(``fsspec.core.url_to_fs(url, **options)``), for checkpoints and for data.

Invariant: secret values in the returned dict are :class:`Secret` strings, a
``str`` subclass whose ``repr`` does not reveal the value, so printing or
logging the dict (``%r``, ``%s``, f-strings of the dict) never shows a
credential. They still behave as ordinary strings for the clients that sign
requests with them. Use :func:`redact` when a fully masked copy is wanted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from seer.platform.contract import ENV_S3_ADDRESSING_STYLE

__all__ = ["Secret", "protocol_of", "redact", "storage_options_from_env"]

# Keys whose values are credentials, wherever they appear in an options dict.
_SECRET_KEYS = frozenset(
    {"key", "secret", "token", "password", "aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
)


_ADDRESSING_STYLES = frozenset({"auto", "path", "virtual"})


class Secret(str):
    """A string whose ``repr`` hides its value.

    NOTE: the repr carries a short hash instead of a constant mask because
    fsspec caches filesystem instances by a token computed from ``str(kwargs)``;
    a constant mask would make two different credentials for the same endpoint
    share one cached (wrongly authenticated) filesystem.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.encode()).hexdigest()[:8]
        return f"'<redacted:{digest}>'"


def protocol_of(url: str) -> str:
    """The fsspec protocol of ``url``: ``"s3"``, ``"gs"``, ``"file"`` for a local path."""
    scheme = urlsplit(url).scheme
    if scheme in ("", "file", "local") or len(scheme) == 1:  # one letter: a Windows drive
        return "file"
    return {"s3a": "s3", "gcs": "gs"}.get(scheme, scheme)


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _s3_options(env: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    endpoint = _first(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    key = _first(env, "AWS_ACCESS_KEY_ID")
    secret = _first(env, "AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options["key"] = Secret(key)
        options["secret"] = Secret(secret)
        token = _first(env, "AWS_SESSION_TOKEN")
        if token:
            options["token"] = Secret(token)
    region = _first(env, "AWS_REGION", "AWS_DEFAULT_REGION")
    if region:
        options["client_kwargs"] = {"region_name": region}
    style = _first(env, ENV_S3_ADDRESSING_STYLE)
    if style and style != "auto":
        if style not in _ADDRESSING_STYLES:
            raise ValueError(
                f"{ENV_S3_ADDRESSING_STYLE}={style!r} is not an S3 addressing style:"
                f" use one of {', '.join(sorted(_ADDRESSING_STYLES))} (spec.storage.addressingStyle)"
            )
        # botocore's own setting; s3fs passes config_kwargs to botocore.config.Config.
        options["config_kwargs"] = {"s3": {"addressing_style": style}}
    return options


def _gs_options(env: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    credentials = _first(env, "GOOGLE_APPLICATION_CREDENTIALS")
    if credentials:
        # gcsfs accepts the path of a service-account JSON file as ``token``.
        options["token"] = Secret(credentials)
    project = _first(env, "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
    if project:
        options["project"] = project
    endpoint = _first(env, "STORAGE_EMULATOR_HOST")
    if endpoint:
        options["endpoint_url"] = endpoint
    return options


def storage_options_from_env(url: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """fsspec ``storage_options`` for ``url`` built from environment variables.

    S3 (``s3://``): ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` → ``endpoint_url``;
    ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``) →
    ``key``/``secret``/``token``; ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` →
    ``client_kwargs.region_name``; ``SEER_S3_ADDRESSING_STYLE`` (``path``/``virtual``, from
    ``spec.storage.addressingStyle``) → ``config_kwargs.s3.addressing_style``.
    GCS (``gs://``): ``GOOGLE_APPLICATION_CREDENTIALS`` → ``token``, ``GOOGLE_CLOUD_PROJECT`` →
    ``project``, ``STORAGE_EMULATOR_HOST`` → ``endpoint_url``; with neither a key file nor an
    emulator gcsfs uses the machine's own
    identity (GKE workload identity, ``gcloud`` login). Local paths and other protocols: ``{}``.

    Unset variables are left out, so the client's own credential chain (instance
    role, workload identity) still applies. Returns a fresh plain dict each call.
    """
    environ = os.environ if env is None else env
    protocol = protocol_of(url)
    if protocol == "s3":
        return _s3_options(environ)
    if protocol == "gs":
        return _gs_options(environ)
    return {}


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` with every credential replaced by ``"***"`` (recursively)."""
    masked: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, Mapping):
            masked[name] = redact(value)
        elif isinstance(value, Secret) or name.lower() in _SECRET_KEYS:
            masked[name] = "***"
        else:
            masked[name] = value
    return masked
