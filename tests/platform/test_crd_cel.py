"""The CRD's CEL rules (``x-kubernetes-validations``) refuse at admission what seerctl
refuses: ``kubectl apply`` of a SeerJob with ``nodes.min > nodes.max`` fails there and
then, instead of being accepted and later marked ``Failed/InvalidSpec``.

The rules are evaluated with cel-python over the document as the API server sees it
(the CRD's own defaults applied first, ``number`` fields as doubles), and every rule in
the generated CRD must be exercised by a case below, so a new rule cannot go untested.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import celpy
import pytest
import yaml

from seer.platform.crd import render_crd
from seer.platform.loading import SpecError, validate_document
from seer.platform.spec import IMMUTABLE_MESSAGE, SeerJobSpec

SPEC_SCHEMA = yaml.safe_load(render_crd())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
ENV = celpy.Environment()


def rules(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """(path of the object, rule, message) for every CEL rule in the schema."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule["rule"], rule["message"]
    for name, prop in (schema.get("properties") or {}).items():
        yield from rules(prop, (*path, name))


def with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it: absent properties get their
    ``default``, present objects recurse; ``number`` fields become doubles (CEL's view)."""
    if schema.get("type") == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    out = dict(value)
    for name, prop in (schema.get("properties") or {}).items():
        if name not in out and "default" in prop:
            out[name] = copy.deepcopy(prop["default"])
        if name in out:
            out[name] = with_defaults(prop, out[name])
    return out


def cel_refusals(spec: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """Messages of every rule that does not hold for this spec (admission's answer).

    ``old``: the stored spec of an update; without it (a create) transition rules, the
    ones that read ``oldSelf``, are skipped, as the API server skips them."""
    admitted = with_defaults(SPEC_SCHEMA, spec)
    before = with_defaults(SPEC_SCHEMA, old) if old is not None else None
    failed = []
    for path, rule, message in rules(SPEC_SCHEMA):
        if "oldSelf" in rule and before is None:
            continue
        target: Any = admitted
        previous: Any = before
        for key in path:
            target = target[key]
            previous = previous[key] if previous is not None else None
        scope = {"self": celpy.json_to_cel(target)}
        if previous is not None:
            scope["oldSelf"] = celpy.json_to_cel(previous)
        result = ENV.program(ENV.compile(rule)).evaluate(scope)
        if result is not True and not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            failed.append(message)
    return failed


def seerctl_refuses(spec: dict[str, Any]) -> bool:
    doc = {"apiVersion": "seer.dev/v1alpha1", "kind": "SeerJob", "metadata": {"name": "cel"}, "spec": spec}
    try:
        validate_document(doc)
    except SpecError:
        return True
    return False


INVALID = [
    ({"resources": {"nodes": {"min": 3, "max": 2}}}, "nodes.min is larger than nodes.max"),
    ({"swav": {"crops": {"sizes": [224, 96], "counts": [2]}}}, "`counts` needs one entry per crop size in `sizes`"),
    (
        {"swav": {"crops": {"sizes": [224], "counts": [2], "minScale": [0.14, 0.05], "maxScale": [1.0]}}},
        "`minScale` needs one entry per crop size in `sizes`",
    ),
    (
        {"swav": {"crops": {"sizes": [224], "counts": [2], "minScale": [0.14], "maxScale": [1.0, 0.14]}}},
        "`maxScale` needs one entry per crop size in `sizes`",
    ),
    ({"optim": {"epochs": 2, "warmupEpochs": 5}}, "warmupEpochs is longer than epochs"),
    (
        {"resources": {"gpusPerNode": 2, "procsPerNode": 4}},
        "procsPerNode is larger than gpusPerNode: run one process per GPU",
    ),
    ({"restart": {"backoffSeconds": 100, "maxBackoffSeconds": 10}}, "backoffSeconds is larger than maxBackoffSeconds"),
]

VALID = [
    {},
    {"resources": {"nodes": {"min": 2, "max": 4}, "gpusPerNode": 8, "procsPerNode": 8}},
    {"optim": {"epochs": 10, "warmupEpochs": 10}},
    {"optim": {"epochs": 10, "warmupEpochs": 0.5}},
    {"restart": {"backoffSeconds": 10, "maxBackoffSeconds": 10}},
    {
        "swav": {
            "crops": {"sizes": [224], "counts": [2], "minScale": [0.14], "maxScale": [1.0]},
            "assignmentCrops": [0, 1],
        }
    },
]


def test_every_rule_compiles_as_cel():
    found = list(rules(SPEC_SCHEMA))
    assert len(found) >= len(INVALID)
    for _path, rule, _message in found:
        ENV.compile(rule)


@pytest.mark.parametrize("spec,message", INVALID, ids=[m for _, m in INVALID])
def test_admission_refuses_what_seerctl_refuses_with_the_same_reason(spec, message):
    assert seerctl_refuses(spec), "the Python validator must refuse it too"
    assert cel_refusals(spec) == [message]


@pytest.mark.parametrize("spec", VALID)
def test_admission_accepts_what_seerctl_accepts(spec):
    assert not seerctl_refuses(spec)
    assert cel_refusals(spec) == []


RUNNING = {"resources": {"nodes": {"min": 1, "max": 2}}}
SUSPENDED = {**RUNNING, "suspend": True}
#: (stored spec, edited spec, refusal message or None): edits of a running job are refused (issue: old pods
#: kept the old spec, new pods got the new one); suspended jobs may be edited, and suspend itself may change.
TRANSITIONS = [
    (RUNNING, {"resources": {"nodes": {"min": 1, "max": 3}}}, IMMUTABLE_MESSAGE),
    (RUNNING, {**RUNNING, "swav": {"numPrototypes": 1000}}, IMMUTABLE_MESSAGE),
    (RUNNING, {**RUNNING, "restart": {"maxRestarts": 3}}, IMMUTABLE_MESSAGE),
    (RUNNING, RUNNING, None),
    (RUNNING, SUSPENDED, None),
    (SUSPENDED, {"resources": {"nodes": {"min": 1, "max": 3}}, "suspend": True}, None),
    (SUSPENDED, {"resources": {"nodes": {"min": 1, "max": 3}}}, None),  # edit and resume in one patch
    (RUNNING, {**SUSPENDED, "swav": {"numPrototypes": 1000}}, None),  # suspend and edit in one patch
]


@pytest.mark.parametrize("old,new,message", TRANSITIONS)
def test_admission_refuses_edits_of_a_running_job(old, new, message):
    assert cel_refusals(new, old) == ([message] if message else [])


def test_the_immutability_rule_covers_every_section_but_suspend():
    sections = {f.alias or name for name, f in SeerJobSpec.model_fields.items()} - {"suspend"}
    rule = next(r for path, r, m in rules(SPEC_SCHEMA) if m == IMMUTABLE_MESSAGE and path == ())
    assert {s for s in sections if f"self.{s} == oldSelf.{s}" in rule} == sections


def test_every_rule_is_exercised_by_a_case():
    exercised = {message for _, message in INVALID} | {m for _, _, m in TRANSITIONS if m}
    assert {message for _, _, message in rules(SPEC_SCHEMA)} == exercised
