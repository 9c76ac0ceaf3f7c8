"""Property-based: random job documents either validate or fail with the clean error.

"Clean" means a SpecError whose every problem names a field path (or the document)
and a message — never another exception type, never a crash in the error formatter.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seer.platform.loading import SpecError, parse_job, validate_document
from seer.platform.spec import SeerJob

KEYS = [
    "metadata",
    "spec",
    "name",
    "model",
    "variant",
    "swav",
    "crops",
    "sizes",
    "counts",
    "minScale",
    "maxScale",
    "numPrototypes",
    "queue",
    "length",
    "optim",
    "baseLr",
    "epochs",
    "data",
    "batchSize",
    "sources",
    "resources",
    "nodes",
    "min",
    "max",
    "procsPerNode",
    "checkpoint",
    "keepLast",
    "restart",
    "maxRestarts",
    "eval",
    "enabled",
    "typo",
    "batch_size",
    "design",
    "depth",
    "w0",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10, max_value=10_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["demo", "regnety_400mf", "lars", "bf16", "s3://b/x", "Bad_Name"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=20,
)


def _check(doc: object) -> None:
    try:
        job = validate_document(doc) if isinstance(doc, dict) else parse_job(yaml.safe_dump(doc))
    except SpecError as err:
        assert err.problems, "a SpecError lists at least one problem"
        for p in err.problems:
            assert p.message
            assert p.render()
        return
    assert isinstance(job, SeerJob)
    # A valid job round-trips through its own document.
    assert SeerJob.model_validate(job.to_document()) == job


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=4))
def test_random_documents_validate_or_fail_cleanly(doc):
    _check(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(alphabet="abcXYZ-_019", min_size=0, max_size=45),
    spec=st.fixed_dictionaries(
        {},
        optional={
            "data": st.fixed_dictionaries(
                {}, optional={"batchSize": st.integers(-5, 5000), "loaderWorkers": st.integers(-1, 200)}
            ),
            "resources": st.fixed_dictionaries(
                {},
                optional={
                    "nodes": st.fixed_dictionaries({"min": st.integers(0, 10), "max": st.integers(0, 10)}),
                    "procsPerNode": st.integers(0, 10),
                },
            ),
            "swav": st.fixed_dictionaries(
                {},
                optional={
                    "queue": st.fixed_dictionaries({"length": st.integers(-1, 10_000)}),
                    "assignmentCrops": st.lists(st.integers(-1, 9), max_size=3),
                },
            ),
            "optim": st.fixed_dictionaries(
                {}, optional={"epochs": st.integers(-1, 50), "warmupEpochs": st.floats(-1, 60)}
            ),
        },
    ),
)
def test_near_valid_documents_validate_or_fail_cleanly(name, spec):
    _check({"metadata": {"name": name}, "spec": spec})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_the_clean_error(text):
    try:
        parse_job(text)
    except SpecError:
        pass
