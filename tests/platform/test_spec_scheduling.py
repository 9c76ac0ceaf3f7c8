"""spec.scheduling: a Kueue queue name and a gang scheduler, validated as full strings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from seer.platform.spec import SeerJob


def _job(**scheduling):
    return SeerJob.model_validate({"metadata": {"name": "j"}, "spec": {"scheduling": scheduling}})


def test_defaults_to_no_queue_and_no_gang():
    scheduling = _job().spec.scheduling
    assert (scheduling.queue, scheduling.gang, scheduling.scheduler_name) == (None, "none", None)


def test_accepts_a_queue_and_each_gang_scheduler():
    for gang in ("none", "volcano", "coscheduling"):
        job = _job(queue="team-a", gang=gang, schedulerName="my.scheduler")
        assert (job.spec.scheduling.queue, job.spec.scheduling.gang) == ("team-a", gang)


@pytest.mark.parametrize(
    "field,value",
    [
        ("queue", "Team_A"),  # not a DNS label
        ("queue", "team-a\nx"),  # a pattern matched only at the start would let this through
        ("queue", "a" * 64),  # longer than a label value may be
        ("gang", "slurm"),
        ("schedulerName", "-volcano"),
    ],
)
def test_rejects_invalid_values_naming_the_field(field, value):
    with pytest.raises(ValidationError) as e:
        _job(**{field: value})
    assert field in str(e.value)


def test_crd_carries_the_section():
    from seer.platform.crd import build_crd

    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    scheduling = schema["properties"]["spec"]["properties"]["scheduling"]["properties"]
    assert scheduling["gang"]["enum"] == ["none", "volcano", "coscheduling"]
    assert scheduling["queue"]["pattern"].startswith("^") and scheduling["queue"]["pattern"].endswith("$")
