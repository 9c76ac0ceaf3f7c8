"""Credentials never travel inside URLs: detect them, and redact any URL before it is shown.

A URL such as ``s3://KEY:SECRET@bucket/path`` carries its credentials in the *userinfo*
part (everything between ``//`` and ``@``). Once accepted, such a URL would be copied
into ``state.json``, events, logs, the SeerJob resource and the worker's environment,
so the spec refuses it (`credentials_in`), and everything that prints a URL passes it
through `redact_url` first, in case one arrives by another road (an old run, a
resource created with kubectl). Query parameters that carry signatures or tokens
(pre-signed URLs) are redacted as well. Standard library only.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "WHERE_CREDENTIALS_GO", "credentials_in", "redact_strings", "redact_url", "redact_urls_in"]

REDACTED = "***"
#: The fix, said once: error messages and docs quote it.
WHERE_CREDENTIALS_GO = (
    "locally, export them in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or use a credentials file; "
    "on Kubernetes, store them in a Secret and name it in spec.storage.secretName"
)

#: Query parameters whose values are secrets (lower-cased): S3/GCS/Azure pre-signed URLs, tokens.
_SECRET_QUERY_KEYS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "sig",
        "signature",
        "token",
        "access_token",
        "password",
        "secret",
        "awsaccesskeyid",
    }
)
#: A URL with a scheme inside free text (a log line, an error message).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def credentials_in(url: str) -> bool:
    """True when ``url`` has a userinfo part (``scheme://user[:password]@host``).

    A user name alone counts: token-style credentials are often passed as the user. Plain
    paths (no ``scheme://``) have no userinfo, even when they contain ``@``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.scheme) and "@" in parts.netloc


def redact_url(url: str) -> str:
    """``url`` with its userinfo and any secret-bearing query values replaced by ``***``.

    Everything else (scheme, host, path) stays readable: ``s3://KEY:SECRET@bucket/x`` ->
    ``s3://***@bucket/x``. Text that does not parse as a URL is returned unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode([(k, REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_urls_in(text: str) -> str:
    """Every ``scheme://...`` URL inside free text, redacted (for log lines and messages)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def redact_strings(obj: Any) -> Any:
    """A copy of a JSON-like document (dicts, lists, strings) with every URL in every string
    redacted: what ``seerctl describe`` and ``status -o json`` print passes through this."""
    if isinstance(obj, str):
        return redact_urls_in(obj)
    if isinstance(obj, dict):
        return {k: redact_strings(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_strings(v) for v in obj]
    return obj
