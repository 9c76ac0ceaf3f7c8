"""Step directory names and which directories retention deletes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seer.trainer.checkpoint.layout import StepEntry, is_complete, parse_step_dir, plan_deletions, step_dir_name


def test_step_dirs_are_zero_padded_so_lexical_order_is_step_order() -> None:
    assert step_dir_name(123) == "step-00000123"
    names = [step_dir_name(s) for s in (9, 10, 100, 2)]
    assert sorted(names) == [step_dir_name(s) for s in (2, 9, 10, 100)]


@given(st.integers(min_value=0, max_value=10**12))
def test_step_dir_names_round_trip(step: int) -> None:
    assert parse_step_dir(step_dir_name(step)) == step
    assert parse_step_dir("bucket/run/" + step_dir_name(step) + "/") == step


@pytest.mark.parametrize("name", ["step-", "step-12a", "latest", "step-00000001.tmp", "xstep-1"])
def test_foreign_names_are_not_steps(name: str) -> None:
    assert parse_step_dir(name) is None


def test_negative_steps_are_rejected() -> None:
    with pytest.raises(ValueError, match="step"):
        step_dir_name(-1)


@pytest.mark.parametrize(
    ("names", "complete"),
    [
        ({".metadata", "manifest.json", "__0_0.distcp"}, True),
        ({".metadata", "__0_0.distcp"}, False),  # killed before the manifest
        ({"__0_0.distcp", "manifest.json"}, False),  # never trust a manifest without DCP's index
        (set(), False),
    ],
)
def test_only_metadata_plus_manifest_is_complete(names: set[str], complete: bool) -> None:
    assert is_complete(names) is complete


def entries(complete: list[int], torn: list[int] = ()) -> list[StepEntry]:  # type: ignore[assignment]
    return [StepEntry(s, True) for s in complete] + [StepEntry(s, False) for s in torn]


@pytest.mark.parametrize(
    ("found", "keep_last", "committed", "deleted"),
    [
        (entries([1, 2, 3]), 3, 3, []),
        (entries([1, 2, 3, 4]), 2, 4, [1, 2]),
        (entries([4, 5], torn=[3]), 2, 5, [3]),  # dead torn save below the commit
        (entries([4, 5], torn=[6]), 2, 5, []),  # torn above the commit may still be written
        (entries([1, 9], torn=[]), 1, 1, [9]),  # a resumed run re-committing an older step keeps it
        (entries([5]), 1, 5, []),
    ],
)
def test_plan_deletions(found: list[StepEntry], keep_last: int, committed: int, deleted: list[int]) -> None:
    assert plan_deletions(found, keep_last=keep_last, committed_step=committed) == deleted


@given(
    st.sets(st.integers(0, 50), min_size=1, max_size=15),
    st.sets(st.integers(0, 50), max_size=5),
    st.integers(1, 5),
)
def test_retention_keeps_exactly_k_complete_and_never_the_committed_one(
    complete: set[int], torn: set[int], k: int
) -> None:
    committed = max(complete)
    found = entries(sorted(complete), sorted(torn - complete))
    deleted = set(plan_deletions(found, keep_last=k, committed_step=committed))
    assert committed not in deleted
    assert len(complete - deleted) == min(k, len(complete))
    assert all(s < committed for s in deleted & (torn - complete))


def test_keep_last_must_be_positive() -> None:
    with pytest.raises(ValueError, match="keep_last"):
        plan_deletions([], keep_last=0, committed_step=1)
