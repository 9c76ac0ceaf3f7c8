"""Spec fields an attacker or a careless user would probe (issue 12, items 7, 8 and 10).

Pattern, label and URL fields are found by walking the model, so a field added later
with one of those markers is covered here without editing this file."""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from seer.platform.crd import build_crd
from seer.platform.loading import SpecError, validate_document
from seer.platform.spec import SeerJob
from seer.platform.spec_types import MAX_CPU_CORES, LabelRules, NoCredentials, Pattern
from seer.platform.urls import credentials_in, redact_strings, redact_url, redact_urls_in

Loc = tuple[Any, ...]


# ------------------------------------------------------------------ walking the model


def _markers(annotation: Any, extra: list[Any]) -> Iterator[tuple[Any, bool]]:
    """(marker, inside a list) for every Pattern/LabelRules/NoCredentials on a field."""
    for m in extra:
        if isinstance(m, Pattern | LabelRules | NoCredentials):
            yield m, False
    stack = [(annotation, False)]
    while stack:
        ann, in_list = stack.pop()
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            base, *meta = typing.get_args(ann)
            yield from ((m, in_list) for m in meta if isinstance(m, Pattern | LabelRules | NoCredentials))
            stack.append((base, in_list))
        else:
            for arg in typing.get_args(ann):
                stack.append((arg, in_list or origin is list))


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def marked_fields(model: type[BaseModel] = SeerJob, loc: Loc = ()) -> Iterator[tuple[Loc, Any, bool]]:
    """(document location by camelCase key, marker, is a list of values) for every marked field."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        for marker, in_list in _markers(field.annotation, list(field.metadata)):
            yield (*loc, key), marker, in_list
        for sub in _models_in(field.annotation):
            is_list = typing.get_origin(field.annotation) is list
            yield from marked_fields(sub, (*loc, key, 0) if is_list else (*loc, key))


def all_fields(model: type[BaseModel] = SeerJob, loc: Loc = ()) -> Iterator[Loc]:
    for name, field in model.model_fields.items():
        key = field.alias or name
        yield (*loc, key)
        for sub in _models_in(field.annotation):
            is_list = typing.get_origin(field.annotation) is list
            yield from all_fields(sub, (*loc, key, 0) if is_list else (*loc, key))


def document_with(loc: Loc, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"metadata": {"name": "demo"}}
    node: Any = doc
    for part, nxt in zip(loc, (*loc[1:], None), strict=True):
        if isinstance(part, int):
            continue  # descended into the list's only item already
        if nxt is None:
            node[part] = value
        elif isinstance(nxt, int):
            node = node.setdefault(part, [{}])[0]
        else:
            node = node.setdefault(part, {})
    return doc


def dotted(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + p for i, p in enumerate(loc))


def problems_of(doc: dict[str, Any]) -> list:
    with pytest.raises(SpecError) as info:
        validate_document(doc, "job.yaml")
    return info.value.problems


PATTERN_FIELDS = [(loc, m, in_list) for loc, m, in_list in marked_fields() if isinstance(m, Pattern)]
LABEL_FIELDS = [(loc, m) for loc, m, _ in marked_fields() if isinstance(m, LabelRules)]
URL_FIELDS = [(loc, in_list) for loc, m, in_list in marked_fields() if isinstance(m, NoCredentials)]


def test_the_walk_finds_the_known_pattern_label_and_url_fields():
    found = {dotted(loc) for loc, _, _ in PATTERN_FIELDS}
    assert {
        "metadata.name",
        "metadata.namespace",
        "spec.storage.secretName",
        "spec.resources.cpu",
        "spec.resources.memory",
        "spec.resources.priorityClassName",
        "spec.resources.image",
        "spec.resources.tolerations[0].key",
        "spec.resources.tolerations[0].value",
    } <= found
    assert {dotted(loc) for loc, _ in LABEL_FIELDS} >= {"metadata.labels", "spec.resources.nodeSelector"}
    assert {dotted(loc) for loc, _ in URL_FIELDS} >= {
        "spec.data.sources",
        "spec.checkpoint.url",
        "spec.storage.endpointUrl",
        "spec.eval.trainUrl",
        "spec.eval.testUrl",
    }


def test_every_url_field_refuses_credentials():
    """A field named like a URL without the NoCredentials marker would let a secret in."""
    url_like = {dotted(loc) for loc in all_fields() if re.search(r"(?i)(url|urls)$|^sources$", str(loc[-1]))}
    assert url_like == {dotted(loc) for loc, _ in URL_FIELDS}


# ---------------------------------------------------------------- item 8: full match


@pytest.mark.parametrize(
    "loc, pattern, in_list", PATTERN_FIELDS, ids=lambda x: dotted(x) if isinstance(x, tuple) else ""
)
def test_every_pattern_field_accepts_its_example_and_refuses_a_trailing_newline(loc: Loc, pattern: Pattern, in_list):
    wrap = (lambda v: [v]) if in_list else (lambda v: v)
    SeerJob.model_validate(document_with(loc, wrap(pattern.example)))
    for bad in (pattern.example + "\n", "\n" + pattern.example, pattern.example + " "):
        problems = problems_of(document_with(loc, wrap(bad)))
        assert [p.path for p in problems] == [dotted(loc) + ("[0]" if in_list else "")], problems


SPEC_PATTERN_FIELDS = [(loc, m, in_list) for loc, m, in_list in PATTERN_FIELDS if loc[0] == "spec"]


@pytest.mark.parametrize(
    "loc, pattern, in_list", SPEC_PATTERN_FIELDS, ids=lambda x: dotted(x) if isinstance(x, tuple) else ""
)
def test_the_crd_carries_every_spec_pattern_anchored_at_both_ends(loc: Loc, pattern: Pattern, in_list: bool):
    """The API server (Go regexp: `$` is the end of the text) refuses what seerctl refuses."""
    node = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in loc:
        node = node["items"] if isinstance(part, int) else node["properties"][part]
    if in_list:
        node = node["items"]
    assert node["pattern"] == f"^(?:{pattern.regex})$"


@pytest.mark.parametrize("loc, rules", LABEL_FIELDS, ids=lambda x: dotted(x) if isinstance(x, tuple) else "")
def test_every_label_map_checks_keys_and_values_including_a_trailing_newline(loc: Loc, rules: LabelRules):
    SeerJob.model_validate(document_with(loc, {rules.example_key: rules.example_value, "plain": ""}))
    bad_maps = [
        {rules.example_key + "\n": rules.example_value},
        {rules.example_key: rules.example_value + "\n"},
        {"has space": "x"},
        {"a" * 64: "x"},
        {"x" * 254 + "/name": "x"},
        {"team": "v" * 64},
        {"team": "-leading-dash"},
    ]
    for labels in bad_maps:
        assert [p.path for p in problems_of(document_with(loc, labels))] == [dotted(loc)], labels


@pytest.mark.parametrize(
    "loc, value",
    [
        (("metadata", "name"), "demo\n"),
        (("metadata", "namespace"), "default\n"),
        (("spec", "storage", "secretName"), "creds\n"),
        (("spec", "resources", "cpu"), "4\n"),
        (("spec", "resources", "memory"), "16Gi\n"),
    ],
)
def test_the_fields_named_in_the_issue_refuse_a_trailing_newline(loc: Loc, value: str):
    assert [p.path for p in problems_of(document_with(loc, value))] == [dotted(loc)]


# ------------------------------------------------------------ item 10: loose numbers


@pytest.mark.parametrize(
    "loc, value",
    [
        (("spec", "resources", "procsPerNode"), True),
        (("spec", "resources", "procsPerNode"), "2"),
        (("spec", "data", "batchSize"), False),
        (("spec", "optim", "baseLr"), True),
        (("spec", "optim", "baseLr"), "0.3"),
        (("spec", "optim", "maxSteps"), True),
        (("spec", "swav", "crops", "sizes"), [224, True]),
        (("spec", "resources", "tolerations", 0, "tolerationSeconds"), True),
    ],
)
def test_a_bool_or_text_is_not_a_number(loc: Loc, value: Any):
    [p] = problems_of(document_with(loc, value))
    assert p.path == dotted(loc)
    assert "must be a number, not" in p.message or "must be an integer, not" in p.message, p.message


def test_an_integer_is_still_a_fine_float():
    doc = document_with(("spec", "optim", "baseLr"), 1)
    assert SeerJob.model_validate(doc).spec.optim.base_lr == 1.0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_must_be_finite_numbers(value: float):
    [p] = problems_of(document_with(("spec", "swav", "temperature"), value))
    assert p.path == "spec.swav.temperature"
    assert p.message.startswith("must be a finite number")


@pytest.mark.parametrize("value", ["4", "0.5", "500m", "1m", str(MAX_CPU_CORES)])
def test_cpu_quantities_in_bounds_pass(value: str):
    assert SeerJob.model_validate(document_with(("spec", "resources", "cpu"), value)).spec.resources.cpu == value


@pytest.mark.parametrize(
    "value, says",
    [
        ("0", "less than one millicore"),
        ("0m", "less than one millicore"),
        ("0.0001", "less than one millicore"),
        ("99999999999999999999999", f"more than {MAX_CPU_CORES} cores"),
        (str(MAX_CPU_CORES + 1), f"more than {MAX_CPU_CORES} cores"),
        ("4Gi", "is not a CPU quantity"),
        ("-1", "is not a CPU quantity"),
    ],
)
def test_cpu_quantities_out_of_bounds_are_refused(value: str, says: str):
    [p] = problems_of(document_with(("spec", "resources", "cpu"), value))
    assert p.path == "spec.resources.cpu" and says in p.message


def test_toleration_seconds_are_bounded():
    loc = ("spec", "resources", "tolerations", 0, "tolerationSeconds")
    SeerJob.model_validate(document_with(loc, 300))
    [p] = problems_of(document_with(loc, 10**12))
    assert p.path == dotted(loc) and "less than or equal" in p.message
    [p] = problems_of(document_with(loc, -1))
    assert p.path == dotted(loc)


# --------------------------------------------------------- item 7: credentials in URLs

SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
CREDENTIAL_URLS = [
    f"s3://AKIAIOSFODNN7EXAMPLE:{SECRET}@bucket/seer/",
    f"https://minio:{SECRET}@minio.example.com:9000",
    f"gs://{SECRET}@bucket/images/",
]


@pytest.mark.parametrize("loc, in_list", URL_FIELDS, ids=lambda x: dotted(x) if isinstance(x, tuple) else "")
@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_credentials_inside_any_url_field_are_refused_without_echoing_them(loc: Loc, in_list: bool, url: str):
    doc = document_with(loc, [url] if in_list else url)
    if loc[:2] == ("spec", "eval"):
        doc["spec"]["eval"].update({"trainUrl": "s3://b/train", "testUrl": "s3://b/test", loc[-1]: url})
    with pytest.raises(SpecError) as info:
        validate_document(doc, "job.yaml")
    [p] = info.value.problems
    assert p.path == dotted(loc) + ("[0]" if in_list else "")
    assert "spec.storage.secretName" in p.message and "environment" in p.message
    assert SECRET not in info.value.render()
    # pydantic's own message (logged by the operator) must not carry the secret either
    with pytest.raises(ValidationError) as raw:
        SeerJob.model_validate(doc)
    assert SECRET not in str(raw.value)


@pytest.mark.parametrize("url", ["s3://bucket/seer/", "./data/user@host/images", "/abs/path", "http://minio:9000"])
def test_urls_without_userinfo_pass(url: str):
    assert not credentials_in(url)
    SeerJob.model_validate(document_with(("spec", "checkpoint", "url"), url))


@pytest.mark.parametrize(
    "url, shown",
    [
        ("s3://KEY:SECRET@bucket/x", "s3://***@bucket/x"),
        ("https://token@host:9000/p?q=1", "https://***@host:9000/p?q=1"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&x=1",
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&x=1",
        ),
        ("s3://bucket/x", "s3://bucket/x"),
        ("./local@path", "./local@path"),
    ],
)
def test_redact_url_hides_userinfo_and_signatures_only(url: str, shown: str):
    assert redact_url(url) == shown


def test_redact_urls_in_text_finds_every_url():
    text = "saving to s3://K:S@b/ck failed; source gs://t@b/i ok"
    assert redact_urls_in(text) == "saving to s3://***@b/ck failed; source gs://***@b/i ok"


def test_redact_strings_walks_a_whole_document():
    doc = {"spec": {"data": {"sources": ["s3://K:S@b/i", "./local"]}, "n": 3}, "msg": "at gs://t@b/x"}
    assert redact_strings(doc) == {
        "spec": {"data": {"sources": ["s3://***@b/i", "./local"]}, "n": 3},
        "msg": "at gs://***@b/x",
    }
