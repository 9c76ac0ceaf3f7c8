"""`seerctl completion bash` completes verbs, options, option choices and files in a real
bash (the script is generated from the parser, so every verb is covered)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seer.platform.cli import build_parser
from seer.platform.cli.completion import bash_script


def complete(script: str, words: list[str], cwd: Path) -> list[str]:
    """COMPREPLY for the command line ``words`` (the last one is being completed)."""
    array = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"{script}\nCOMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _seerctl; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    out = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return sorted(filter(None, out.stdout.splitlines()))


@pytest.fixture(scope="module")
def script() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "seer.platform.cli", "completion", "bash"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == bash_script(build_parser()) + "\n"
    return out.stdout


def test_verbs_complete_from_a_prefix(script, tmp_path):
    assert complete(script, ["seerctl", "de"], tmp_path) == ["delete", "describe"]
    assert "completion" in complete(script, ["seerctl", ""], tmp_path)


def test_options_of_the_verb_and_their_choices_complete(script, tmp_path):
    assert complete(script, ["seerctl", "logs", "x", "--ta"], tmp_path) == ["--tail"]
    assert complete(script, ["seerctl", "status", "x", "-s", ""], tmp_path) == ["kubernetes", "local"]
    assert complete(script, ["seerctl", "submit", "job.yaml", "-o", "y"], tmp_path) == ["yaml"]
    assert complete(script, ["seerctl", "data", ""], tmp_path) == ["index"]


def test_a_job_file_completes_as_a_file(script, tmp_path):
    (tmp_path / "quickstart.yaml").write_text("")
    assert complete(script, ["seerctl", "submit", "quick"], tmp_path) == ["quickstart.yaml"]
