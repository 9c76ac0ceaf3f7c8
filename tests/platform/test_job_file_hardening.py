"""Adversarial job files (issue 12, items 6 and 9): duplicate keys are errors naming both
lines; oversized, endless, deeply nested or key-flooded files end in exit 2 with a bounded,
clear message and no traceback. Nothing here asserts on time (the cost is measured in the
report with the commands in docs); it asserts on behaviour: the exit status, the number of
lines printed, the absence of a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import seerctl_runner
from hostile_job_files import write_deep, write_fifty_megabytes

from seer.platform.loading import MAX_DEPTH, MAX_FILE_BYTES, MAX_PROBLEMS_SHOWN, SpecError, load_job, parse_job


def errors_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_job(text, "job.yaml")
    return info.value


# ------------------------------------------------------------------ duplicate keys


def test_duplicate_top_level_key_names_both_lines():
    err = errors_of("metadata: {name: one}\nspec: {}\nmetadata: {name: two}\n")
    [p] = err.problems
    assert p.path == "metadata"
    assert "duplicate key `metadata`" in p.message and "line 1" in p.message and "line 3" in p.message
    assert p.line == 3


def test_duplicate_nested_key_names_its_path_and_both_lines():
    text = "metadata: {name: demo}\nspec:\n  data:\n    batchSize: 8\n    loaderWorkers: 2\n    batchSize: 16\n"
    [p] = errors_of(text).problems
    assert p.path == "spec.data.batchSize"
    assert "line 4" in p.message and "line 6" in p.message


def test_duplicate_key_inside_a_list_item():
    text = "metadata: {name: demo}\nspec:\n  resources:\n    tolerations:\n      - key: a\n        key: b\n"
    [p] = errors_of(text).problems
    assert p.path == "spec.resources.tolerations[0].key"
    assert "line 5" in p.message and "line 6" in p.message


def test_duplicate_keys_in_json_are_errors_too():
    text = (
        '{\n  "metadata": {"name": "demo"},\n  "spec": {\n'
        '    "data": {"batchSize": 8},\n    "data": {"batchSize": 9}\n  }\n}\n'
    )
    [p] = errors_of(text).problems
    assert p.path == "spec.data"
    assert "line 4" in p.message and "line 5" in p.message


def test_keys_equal_after_yaml_typing_are_duplicates():
    # `true` and `yes` are the same key once YAML 1.1 types them: the last would win silently.
    err = errors_of("metadata: {name: demo}\nspec:\n  data: {true: 1, yes: 2}\n")
    assert any("duplicate key" in p.message for p in err.problems), err.render()


def test_every_duplicate_is_reported_at_once():
    text = "metadata: {name: a, name: b}\nspec:\n  data: {batchSize: 1, batchSize: 2}\n"
    assert {p.path for p in errors_of(text).problems} == {"metadata.name", "spec.data.batchSize"}


def test_a_merge_key_override_is_not_a_duplicate():
    text = "metadata: {name: demo}\nspec:\n  data:\n    <<: {batchSize: 4, loaderWorkers: 1}\n    batchSize: 8\n"
    job = parse_job(text)
    assert job.spec.data.batch_size == 8 and job.spec.data.loader_workers == 1


def test_aliases_are_not_walked_exponentially():
    # A "billion laughs" graph: each level refers to the previous one ten times. Walking
    # the node graph for duplicate keys must visit each node once, not 10**9 times.
    lines = ["a0: &a0 {k: v}"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = "\n".join(lines) + "\nmetadata: {name: demo}\n"
    err = errors_of(text)
    assert all("duplicate" not in p.message for p in err.problems)
    assert any("unknown key `a9`" in p.message for p in err.problems)


# --------------------------------------------------------------- size and depth


def test_a_file_over_the_size_cap_is_refused_by_size(tmp_path: Path):
    job = tmp_path / "big.yaml"
    job.write_text("metadata: {name: demo}\n" + "#" * MAX_FILE_BYTES + "\n")
    with pytest.raises(SpecError) as info:
        load_job(job)
    [p] = info.value.problems
    assert "larger than 1 MiB" in p.message and "job file" in p.message


def test_an_endless_device_is_refused_by_size():
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")
    with pytest.raises(SpecError) as info:
        load_job("/dev/zero")
    assert "larger than 1 MiB" in str(info.value)


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_one_clear_problem_not_a_recursion_error(opener: str, closer: str):
    depth = 100_000
    err = errors_of("metadata: {name: demo}\nspec: " + opener * depth + closer * depth + "\n")
    [p] = err.problems
    assert f"more than {MAX_DEPTH} levels" in p.message
    assert p.line == 2


def test_nesting_up_to_the_limit_is_still_read():
    # One nested list under an unknown key, MAX_DEPTH levels deep in total: it parses, and
    # the only problem is the unknown key.
    depth = MAX_DEPTH - 1
    err = errors_of("metadata: {name: demo}\nextra: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n")
    assert [p.path for p in err.problems] == ["extra"]


# -------------------------------------------------------------- many problems


def test_forty_thousand_unknown_keys_list_the_first_twenty_and_count_the_rest():
    keys = "".join(f"    k{i}: 0\n" for i in range(40_000))
    err = errors_of("metadata: {name: demo}\nspec:\n  data:\n" + keys)
    text = err.render()
    lines = text.splitlines()
    assert len(lines) == 1 + MAX_PROBLEMS_SHOWN + 1, text[:2000]
    assert "(40000 problems)" in lines[0]
    assert lines[1].startswith("  - spec.data.k0 (line 4")
    assert lines[-1].strip() == f"... and {40_000 - MAX_PROBLEMS_SHOWN} more"


def test_a_single_problem_is_one_line():
    err = errors_of("metadata: {name: demo}\nspek: {}\n")
    assert len(err.render().splitlines()) == 1


# ------------------------------------------------------------------ through seerctl


def run_seerctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return seerctl_runner.run_seerctl({**os.environ, "SEER_HOME": str(cwd / "home"), "COLUMNS": "400"}, *args, cwd=cwd)


def _fifty_megabytes(tmp_path: Path) -> str:
    return str(write_fifty_megabytes(tmp_path / "huge.yaml"))


def _deep(tmp_path: Path) -> str:
    return str(write_deep(tmp_path / "deep.yaml"))


def _many_keys(tmp_path: Path) -> str:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"metadata": {"name": "demo"}, "spec": {f"k{i}": 0 for i in range(40_000)}}))
    return str(path)


def _duplicates(tmp_path: Path) -> str:
    path = tmp_path / "dup.yaml"
    path.write_text("metadata:\n  name: demo\n  name: other\n")
    return str(path)


@pytest.mark.parametrize(
    "make, expected, max_lines",
    [
        (_fifty_megabytes, "larger than 1 MiB", 1),
        (lambda tmp: "/dev/zero", "larger than 1 MiB", 1),
        (_deep, f"more than {MAX_DEPTH} levels", 1),
        (_many_keys, "... and 39980 more", MAX_PROBLEMS_SHOWN + 2),
        (_duplicates, "duplicate key `name`", 1),
    ],
    ids=["50MB", "dev-zero", "deep", "40k-keys", "duplicates"],
)
def test_seerctl_submit_ends_hostile_files_with_status_2_and_bounded_output(tmp_path, make, expected, max_lines):
    result = run_seerctl("submit", make(tmp_path), "--dry-run", cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-3000:]
    assert "Traceback" not in out
    assert expected in out
    assert len(result.stderr.splitlines()) <= max_lines, result.stderr[-3000:]
    assert not (tmp_path / "home").exists()
