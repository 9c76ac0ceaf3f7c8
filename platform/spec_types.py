"""Validated string and number types of the SeerJob spec (issue 12, items 7, 8 and 10).

Each rule here is a marker placed in ``Annotated[...]`` on a spec field, so the rule
travels with the field and tests can find every field that carries one by walking the
model (``tests/platform/test_spec_hardening.py``): a new field with a pattern is covered
without touching the test.

Invariants:
- Patterns match the *whole* string (``re.fullmatch``): with ``re.match`` and ``$``,
  ``"demo\\n"`` passes, because ``$`` also matches before a final newline. The same
  rule reaches the CRD as ``pattern: ^(?:...)$`` (Go's RE2 and ECMAScript ``$`` match
  only at the very end), so the API server refuses what ``seerctl`` refuses.
- Numbers are numbers: ``true`` or ``"8"`` for an integer or float field is an error
  (pydantic's lax mode would read ``true`` as 1), while an integer is a fine float.
- URLs never carry credentials (``s3://KEY:SECRET@bucket``): the error says where they
  go instead and never repeats the secret.
- Label keys and values follow Kubernetes' rules (a qualified name: optional DNS
  subdomain prefix of at most 253 characters, then a name of at most 63; values of at
  most 63 characters, possibly empty).
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from seer.platform.urls import WHERE_CREDENTIALS_GO, credentials_in, redact_url

__all__ = [
    "CPU_QUANTITY",
    "CpuQuantity",
    "DNS_LABEL",
    "DNS_SUBDOMAIN",
    "IMAGE_REFERENCE",
    "LABEL_KEY",
    "LABEL_VALUE",
    "LabelMap",
    "LabelRules",
    "MAX_CPU_CORES",
    "MEMORY_QUANTITY",
    "NoCredentials",
    "Pattern",
    "StorageUrl",
    "cpu_cores",
    "reject_loose_number",
]

#: Largest CPU request of one worker pod. The biggest single machines have a few hundred
#: cores; anything beyond this is a typo, and would become an absurd OMP_NUM_THREADS.
MAX_CPU_CORES = 1024


@dataclass(frozen=True)
class Pattern:
    """A string that must match ``regex`` as a whole; ``rule`` says what is allowed.

    ``example`` is a valid value (tests use it; it documents the rule)."""

    regex: str
    rule: str
    example: str

    def check(self, value: str) -> str:
        if re.fullmatch(self.regex, value) is None:
            raise ValueError(f"{value!r} is not {self.rule}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        out = handler(schema)
        out["pattern"] = f"^(?:{self.regex})$"
        return out


_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"

DNS_LABEL = Pattern(
    _LABEL,
    "a valid DNS-1123 label: use lowercase letters, digits and '-', starting and ending with a letter or digit "
    "(e.g. 'seer-run-1')",
    "seer-run-1",
)
DNS_SUBDOMAIN = Pattern(
    rf"{_LABEL}(?:\.{_LABEL})*",
    "a valid Kubernetes object name (DNS-1123 subdomain): lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit (e.g. 'object-store')",
    "object-store.v1",
)
LABEL_KEY = Pattern(
    rf"(?:{_LABEL}(?:\.{_LABEL})*/)?{_NAME}",
    "a valid label key: an optional DNS prefix and '/', then letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit (e.g. 'example.com/team')",
    "example.com/team",
)
LABEL_VALUE = Pattern(
    rf"(?:{_NAME})?",
    "a valid label value: empty, or letters, digits, '-', '_' and '.' starting and ending with a letter or digit",
    "vision_1.0",
)
CPU_QUANTITY = Pattern(
    r"[0-9]+(?:\.[0-9]+)?m?",
    "a CPU quantity: cores ('4', '0.5') or millicores ('500m')",
    "500m",
)
MEMORY_QUANTITY = Pattern(
    r"[0-9]+(?:\.[0-9]+)?(?:m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?",
    "a Kubernetes memory quantity (e.g. '16Gi', '512Mi')",
    "16Gi",
)
IMAGE_REFERENCE = Pattern(
    rf"(?:[A-Za-z0-9](?:[-A-Za-z0-9.]*[A-Za-z0-9])?(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?",
    "a container image reference ([registry/]repository[:tag][@digest], e.g. 'ghcr.io/org/seer:0.1.0')",
    "registry.example.com:5000/team/seer:0.1.0@sha256:" + "0" * 64,
)


def cpu_cores(quantity: str) -> float:
    """Cores of a CPU quantity already matched by `CPU_QUANTITY` ('4', '0.5', '500m')."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _cpu_in_bounds(value: str) -> str:
    cores = cpu_cores(value)
    if cores < 0.001:
        raise ValueError(f"cpu {value!r} is less than one millicore: request at least '1m' (e.g. '500m' or '4')")
    if cores > MAX_CPU_CORES:
        raise ValueError(f"cpu {value!r} is more than {MAX_CPU_CORES} cores per worker pod: is it a typo?")
    return value


#: A worker pod's CPU request: a quantity between 1m and `MAX_CPU_CORES` cores.
CpuQuantity = Annotated[str, CPU_QUANTITY, AfterValidator(_cpu_in_bounds)]


@dataclass(frozen=True)
class NoCredentials:
    """A URL field that refuses ``scheme://user:password@host`` (see `seer.platform.urls`)."""

    example: str = "s3://bucket/seer/"

    def check(self, value: str) -> str:
        if credentials_in(value):
            raise ValueError(
                f"{redact_url(value)!r} has credentials inside the URL; never put them there (they would be "
                f"shown and stored wherever the URL is): {WHERE_CREDENTIALS_GO}"
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))


#: A data, checkpoint, evaluation or endpoint URL (or plain path): no credentials inside.
StorageUrl = Annotated[str, NoCredentials()]


@dataclass(frozen=True)
class LabelRules:
    """A ``dict[str, str]`` of Kubernetes labels (or node-selector terms): keys and values checked."""

    example_key: str = LABEL_KEY.example
    example_value: str = LABEL_VALUE.example

    def check(self, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            prefix, _, name = key.rpartition("/")
            if len(prefix) > 253 or len(name) > 63 or re.fullmatch(LABEL_KEY.regex, key) is None:
                raise ValueError(
                    f"label key {key!r} is not valid: an optional DNS prefix (at most 253 characters) and '/', then "
                    "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
                )
            if len(value) > 63 or re.fullmatch(LABEL_VALUE.regex, value) is None:
                raise ValueError(
                    f"label value {value!r} of {key!r} is not valid: at most 63 letters, digits, '-', '_' and '.', "
                    "starting and ending with a letter or digit (or empty)"
                )
        return labels

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))


LabelMap = Annotated[dict[str, str], LabelRules()]


# ------------------------------------------------------------------------ strict numbers


def _number_kind(annotation: Any) -> tuple[type | None, bool]:
    """(``int``/``float``/None, inside a list) for ``int``, ``float``, ``X | None``, ``list[X]``, ``Annotated``."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _number_kind(typing.get_args(annotation)[0])
    if annotation in (int, float):
        return annotation, False
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (_number_kind(args[0])[0] if len(args) == 1 else None), False
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return _number_kind(item)[0], True
    return None, False


def _loose(kind: type, value: Any) -> str | None:
    what = "an integer" if kind is int else "a number"
    if isinstance(value, bool):
        return f"must be {what}, not true/false (got {value})"
    if isinstance(value, str):
        return f"must be {what}, not text (got {value[:40]!r}); write a number without quotes"
    return None


def reject_loose_number(annotation: Any, value: Any) -> Any:
    """``value`` unchanged, or ValueError when a bool or a string stands for a number.

    Used as a ``mode="before"`` validator for every field of every spec section, so a
    field added later is covered as well."""
    kind, in_list = _number_kind(annotation)
    if kind is None:
        return value
    if not in_list and (problem := _loose(kind, value)):
        raise ValueError(problem)
    if in_list and isinstance(value, list):
        for i, item in enumerate(value):
            if problem := _loose(kind, item):
                raise ValueError(f"item {i} {problem}")
    return value
