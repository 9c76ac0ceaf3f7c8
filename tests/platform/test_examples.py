"""Every job file in examples/ is valid, and the cluster example is accepted for Kubernetes."""

from __future__ import annotations

from pathlib import Path

import pytest

from seer.platform.crd import build_crd, openapi_to_jsonschema
from seer.platform.loading import load_job

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_valid_job(path: Path):
    job = load_job(path)
    assert job.name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_against_the_generated_crd(path: Path):
    import jsonschema

    schema = openapi_to_jsonschema(build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    jsonschema.Draft4Validator(schema).validate(load_job(path).to_document())  # OpenAPI 3.0 bounds are draft-4 style


def test_the_cluster_example_uses_object_storage_and_a_secret():
    job = load_job(next(p for p in EXAMPLES if p.name.startswith("cluster")))
    assert job.spec.checkpoint.url.startswith("s3://") and job.spec.storage.secret_name
    assert all(u.startswith("s3://") for u in job.spec.data.sources)
