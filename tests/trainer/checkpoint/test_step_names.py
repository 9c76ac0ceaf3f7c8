"""A checkpoint directory name is a step only when it matches whole: ``step-N`` with
nothing after it (Python's ``$`` would also accept a trailing newline)."""

from seer.trainer.checkpoint.layout import parse_step_dir, step_dir_name


def test_a_step_directory_name_round_trips_and_matches_whole() -> None:
    assert parse_step_dir(step_dir_name(12)) == 12
    assert parse_step_dir(step_dir_name(12) + "/") == 12
    assert parse_step_dir(step_dir_name(12) + "\n") is None
    assert parse_step_dir("step-12.tmp") is None
