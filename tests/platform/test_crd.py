"""The generated SeerJob CRD: no drift from the spec, valid for Kubernetes, and a
schema that accepts real jobs and rejects broken ones."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from seer.platform.crd import CRD_PATH, HEADER, build_crd, openapi_to_jsonschema, render_crd
from seer.platform.kube.status import Phase, SeerJobStatus
from seer.platform.spec import SeerJob

ROOT = Path(__file__).resolve().parents[2]


def _schema() -> dict:
    return build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(openapi_to_jsonschema(_schema()))


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_committed_crd_matches_the_spec_generator():
    committed = (ROOT / CRD_PATH).read_text()
    assert committed == render_crd(), "CRD drifted from the spec: run `python -m seer.platform.crd --write`"
    assert committed.startswith(HEADER)


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_crd_passes_kubernetes_validate(version):
    kubernetes_validate.validate(build_crd(), version, strict=True)


def test_schema_is_structural_every_node_typed_no_refs_or_anyof():
    for path, node in _walk(_schema()):
        if "properties" in path.rsplit("/", 1)[-1:]:
            continue
        assert "$ref" not in node and "anyOf" not in node and "const" not in node, path
        if path.endswith("/properties") or path.endswith("/additionalPrinterColumns"):
            continue
        if any(k in node for k in ("description", "default", "properties", "items", "enum")):
            assert "type" in node, f"untyped schema node at {path}"
        if "additionalProperties" in node:
            assert node["additionalProperties"] is not False, path


def test_optional_fields_are_nullable_and_carry_descriptions_and_bounds():
    spec = _schema()["properties"]["spec"]["properties"]
    threads = spec["resources"]["properties"]["threadsPerProc"]
    assert threads["nullable"] is True and threads["minimum"] == 1 and threads["type"] == "integer"
    temp = spec["swav"]["properties"]["temperature"]
    assert temp["exclusiveMinimum"] is True and temp["minimum"] == 0
    assert "kubectl" not in temp["description"] and temp["description"]
    assert spec["resources"]["properties"]["nodeSelector"]["additionalProperties"] == {"type": "string"}


def test_defaults_come_from_the_spec_including_factories():
    spec = _schema()["properties"]["spec"]["properties"]
    assert spec["restart"]["default"] == {}
    assert spec["restart"]["properties"]["retryOn"]["default"] == [
        "preemption",
        "eviction",
        "nodeLoss",
        "oomKill",
        "signal",
    ]
    assert spec["swav"]["properties"]["crops"]["properties"]["sizes"]["default"] == [224, 96]
    assert spec["resources"]["properties"]["nodes"]["properties"]["min"]["default"] == 1


def test_printer_columns_and_names():
    crd = build_crd()
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["singular"], names["shortNames"]) == (
        "SeerJob",
        "seerjobs",
        "seerjob",
        ["sj"],
    )
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Phase", "Ready", "Desired", "Step", "Restarts", "Age"]
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_example_jobs_validate_against_the_crd_schema():
    validator = _validator()
    docs = [SeerJob.model_validate({"metadata": {"name": "minimal"}}).to_document()]
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        docs.append(SeerJob.model_validate(yaml.safe_load(path.read_text())).to_document())
    for doc in docs:
        validator.validate(doc)


def test_schema_rejects_unknown_keys_and_out_of_range_values():
    validator = _validator()
    doc = SeerJob.model_validate({"metadata": {"name": "x"}}).to_document()
    doc["spec"]["resources"]["nodez"] = 3
    assert list(validator.iter_errors(doc))
    doc = SeerJob.model_validate({"metadata": {"name": "x"}}).to_document()
    doc["spec"]["resources"]["nodes"]["min"] = 0
    assert list(validator.iter_errors(doc))


def test_status_schema_accepts_what_the_operator_writes():
    validator = _validator()
    doc = SeerJob.model_validate({"metadata": {"name": "x"}}).to_document()
    status = SeerJobStatus(
        phase=Phase.running, nodes_ready=2, nodes_desired=2, restarts=1, step=40, start_time="2025-01-01T00:00:00Z"
    )
    doc["status"] = status.to_document()
    validator.validate(doc)
    doc["status"]["phase"] = "Exploded"
    assert list(validator.iter_errors(doc))
