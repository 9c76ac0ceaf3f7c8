"""Every class of bad job file gets one clear message: field path, what is allowed, exit 2,
no traceback, nothing written. One test per class of bad input (issue #2, item 5)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import seerctl_runner

from seer.platform.loading import SpecError, load_job, parse_job

VALID = """\
metadata:
  name: demo
spec:
  data:
    batchSize: 8
"""


def errors_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_job(text, "job.yaml")
    return info.value


def only_problem(text: str):
    err = errors_of(text)
    assert len(err.problems) == 1, err.render()
    return err.problems[0]


def test_a_valid_minimal_file_loads_with_defaults():
    job = parse_job(VALID)
    assert job.name == "demo"
    assert job.spec.data.batch_size == 8
    assert job.spec.swav.num_prototypes == 3000  # published default


def test_missing_file_names_the_path(tmp_path: Path):
    with pytest.raises(SpecError) as info:
        load_job(tmp_path / "nope.yaml")
    assert "file not found" in str(info.value) and "nope.yaml" in str(info.value)


def test_yaml_syntax_error_reports_line_and_column():
    p = only_problem("metadata:\n  name: demo\nspec:\n  data: [1, 2\n")
    assert "YAML syntax error" in p.message
    assert p.line is not None and p.line >= 4 and p.column is not None


def test_tab_indentation_is_a_syntax_error_with_position():
    p = only_problem("metadata:\n\tname: demo\n")
    assert p.line == 2


def test_wrong_type_names_field_and_value():
    p = only_problem(VALID.replace("batchSize: 8", "batchSize: eight"))
    assert p.path == "spec.data.batchSize"
    assert "integer" in p.message and "'eight'" in p.message
    assert p.line == 5


def test_out_of_range_number_says_the_bound():
    p = only_problem(VALID.replace("batchSize: 8", "batchSize: 0"))
    assert p.path == "spec.data.batchSize"
    assert "greater than or equal to 1" in p.message


def test_misspelled_key_suggests_the_closest_valid_key():
    p = only_problem(VALID.replace("batchSize: 8", "batchsize: 8"))
    assert p.path == "spec.data.batchsize"
    assert "did you mean `batchSize`" in p.message


def test_snake_case_key_suggests_the_camel_case_spelling():
    p = only_problem("metadata: {name: demo}\nspec:\n  swav:\n    num_prototypes: 10\n")
    assert "did you mean `numPrototypes`" in p.message


def test_unknown_top_level_section_lists_valid_keys():
    p = only_problem("metadata: {name: demo}\nspek: {}\n")
    assert "unknown key `spek`" in p.message and "did you mean `spec`" in p.message


@pytest.mark.parametrize("name", ["Demo", "demo_1", "-demo", "demo-", "a" * 41, ""])
def test_invalid_names_are_rejected_with_the_dns_rule(name: str):
    err = errors_of(f"metadata: {{name: '{name}'}}\n")
    assert any(p.path == "metadata.name" for p in err.problems), err.render()


def test_unknown_model_variant_lists_the_valid_ones():
    p = only_problem("metadata: {name: demo}\nspec:\n  model: {variant: regnety_4gigaflop}\n")
    assert p.path == "spec.model.variant"
    assert "regnety_400mf" in p.message and "regnety_256gf" in p.message


def test_min_nodes_above_max_is_contradictory():
    p = only_problem("metadata: {name: demo}\nspec:\n  resources: {nodes: {min: 4, max: 2}}\n")
    assert "nodes.min=4 is larger than nodes.max=2" in p.message


def test_queue_shorter_than_global_batch_is_contradictory():
    text = (
        "metadata: {name: demo}\nspec:\n  data: {batchSize: 64}\n"
        "  resources: {procsPerNode: 2, nodes: {min: 1, max: 4}}\n  swav: {queue: {length: 256}}\n"
    )
    p = only_problem(text)
    assert "queue.length=256" in p.message and "512" in p.message


def test_crop_counts_not_matching_crop_sizes():
    p = only_problem(
        "metadata: {name: demo}\nspec:\n  swav:\n"
        "    crops: {sizes: [224, 96], counts: [2], minScale: [0.14, 0.05], maxScale: [1, 0.14]}\n"
    )
    assert p.path == "spec.swav.crops"
    assert "`counts` has 1 entries but `sizes` has 2" in p.message


def test_assignment_crop_that_does_not_exist():
    p = only_problem("metadata: {name: demo}\nspec:\n  swav: {assignmentCrops: [0, 9]}\n")
    assert "assignmentCrops [9] do not exist" in p.message


def test_variant_and_design_together_are_contradictory():
    text = (
        "metadata: {name: demo}\nspec:\n  model:\n    variant: regnety_400mf\n"
        "    design: {depth: 4, w0: 16, wa: 8, wm: 2, groupWidth: 8}\n"
    )
    assert "either `variant` or `design`" in only_problem(text).message


def test_a_document_that_is_not_a_mapping():
    assert "must be a mapping" in only_problem("- a\n- b\n").message


def test_an_empty_file_points_at_the_example():
    assert "examples/quickstart.yaml" in only_problem("").message


def test_several_problems_are_all_reported_at_once():
    err = errors_of("metadata: {name: Bad}\nspec:\n  data: {batchSize: 0}\n  optim: {epochz: 3}\n")
    assert {p.path for p in err.problems} >= {"metadata.name", "spec.data.batchSize", "spec.optim.epochz"}


# ----------------------------------------------------------------- through seerctl


def run_seerctl(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return seerctl_runner.run_seerctl({**os.environ, "SEER_HOME": str(home), "COLUMNS": "200"}, *args, cwd=cwd)


@pytest.mark.parametrize(
    "content",
    [
        "metadata: {name: demo\n",
        "metadata: {name: demo}\nspec: {data: {batchSize: -1}}\n",
        "metadata: {name: demo}\nspec: {swav: {numPrototype: 3}}\n",
        "metadata: {name: UPPER}\n",
        "metadata: {name: demo}\nspec: {model: {variant: resnet50}}\n",
        "metadata: {name: demo}\nspec: {resources: {nodes: {min: 3, max: 1}}}\n",
    ],
)
def test_seerctl_submit_rejects_bad_files_with_status_2_no_traceback_and_no_writes(tmp_path: Path, content: str):
    job = tmp_path / "job.yaml"
    job.write_text(content)
    home = tmp_path / "home"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_seerctl("submit", str(job), cwd=tmp_path, home=home)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "error:" in result.stderr and "job.yaml" in result.stderr
    assert not home.exists(), "a rejected job must not create anything"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_seerctl_submit_of_a_missing_file_exits_2(tmp_path: Path):
    result = run_seerctl("submit", "missing.yaml", cwd=tmp_path, home=tmp_path / "home")
    assert result.returncode == 2
    assert "file not found" in result.stderr and "Traceback" not in result.stderr
