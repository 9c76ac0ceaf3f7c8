"""`seerctl logs --since`: durations, and which local lines fall in the window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from seer.platform.cli.log_window import lines_since, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_durations_read_like_kubectl(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "-5m", "1.5h", "3w"])
def test_a_bad_duration_says_what_it_wants(text):
    with pytest.raises(ValueError, match="use e.g. 30s, 10m"):
        parse_duration(text)


def test_untimed_lines_go_with_the_timed_line_before_them():
    lines = [
        "banner before any time",
        "2026-12-04 10:00:00,000 [rank 0] INFO old",
        "Traceback of the old line",
        "2026-12-04 10:30:00,500 [rank 0] INFO new",
        "  continuation of the new line",
    ]
    kept = list(lines_since(lines, datetime(2026, 12, 4, 10, 30)))
    assert kept == ["2026-12-04 10:30:00,500 [rank 0] INFO new", "  continuation of the new line"]
    assert list(lines_since(lines, datetime(2026, 12, 4, 10, 30, 1))) == []


def test_seerctl_logs_since_keeps_the_recent_lines_of_a_local_job(tmp_path, monkeypatch, capsys):
    from seer.platform.cli import main
    from seer.platform.runs import RunDir, RunState
    from seer.platform.spec import SeerJob

    monkeypatch.setenv("SEER_HOME", str(tmp_path))
    run = RunDir.for_job("timed")
    run.logs.mkdir(parents=True)
    run.job_file.write_text(SeerJob.model_validate({"metadata": {"name": "timed"}, "spec": {}}).to_yaml())
    run.write_state(RunState(name="timed", phase="Succeeded"))
    stamp = lambda ago: (datetime.now() - ago).strftime("%Y-%m-%d %H:%M:%S,000")  # noqa: E731
    (run.logs / "supervisor.log").write_text(
        f"{stamp(timedelta(hours=2))} INFO two hours ago\n{stamp(timedelta(minutes=1))} INFO a minute ago\n"
    )
    assert main(["logs", "timed", "--since", "10m"]) == 0
    assert [line.split(" INFO ")[1] for line in capsys.readouterr().out.splitlines()] == ["a minute ago"]
    assert main(["logs", "timed", "--since", "soon"]) == 2
    assert "--since: 'soon' is not a duration" in capsys.readouterr().err
