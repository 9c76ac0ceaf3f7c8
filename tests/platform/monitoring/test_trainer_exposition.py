"""`promtool check metrics` accepts the trainer's exposition (names, help, units, types)
after a few steps and a checkpoint were recorded."""

from __future__ import annotations

import subprocess

from prometheus_client import generate_latest

from seer.trainer.metrics import TrainerMetrics


def _exercised() -> TrainerMetrics:
    m = TrainerMetrics.create(job="quickstart", rank=0)
    for step in range(1, 4):
        m.step_duration.observe(0.12)
        m.images.inc(64)
        m.steps.inc()
        m.step.set(step)
        m.loss.set(4.2 - 0.1 * step)
        m.learning_rate.set(0.01 * step)
        m.data_wait.inc(0.01)
    m.mfu.set(0.31)
    m.checkpoint_duration.observe(0.4)
    m.checkpoint_blocked.observe(0.08)
    m.checkpoint_last_success.set(1_700_000_000)
    m.checkpoint_last_step.set(3)
    return m


def test_promtool_check_metrics_finds_no_problem_in_the_trainer_exposition(promtool):
    exposition = generate_latest(_exercised().registry)
    assert b"seer_train_images_total" in exposition
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    ).decode()


def test_promtool_check_metrics_does_flag_a_badly_named_metric(promtool):
    bad = b"# HELP seer_bad_counter A counter without _total.\n# TYPE seer_bad_counter counter\nseer_bad_counter 1\n"
    result = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, timeout=60)
    assert result.returncode != 0
