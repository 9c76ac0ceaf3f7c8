"""``seer.platform.lifeline``: a process started through it never outlives the parent it names."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from seer.platform.lifeline import wrap

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")


def test_a_parent_that_is_already_gone_means_the_command_never_starts(tmp_path):
    marker = tmp_path / "started"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = subprocess.run(
        [sys.executable, *wrap(["-c", f"open({str(marker)!r}, 'w')"], gone.pid)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "already gone" in out.stderr
    assert not marker.exists()


def test_with_its_parent_alive_the_command_runs_in_the_same_process():
    out = subprocess.run(
        [sys.executable, *wrap(["-c", "import os; print(os.getppid())"], os.getpid())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and int(out.stdout) == os.getpid(), out.stderr


def test_the_command_gets_sigterm_when_its_parent_is_killed(tmp_path):
    """parent (a python that starts the child through the lifeline, then waits) is SIGKILLed;
    the child, which only waits for SIGTERM, must receive it."""
    got = tmp_path / "got-sigterm"
    child = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *_: (open({str(got)!r}, 'w').close(), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "deadline = time.monotonic() + 120\n"
        "while time.monotonic() < deadline: time.sleep(0.05)\n"
    )
    parent = (
        "import os, subprocess, sys\n"
        "from seer.platform.lifeline import wrap\n"
        f"args = wrap(['-c', {child!r}], os.getpid())\n"
        "p = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)\n"
        "print(p.stdout.readline().strip(), flush=True)\n"
        "p.wait()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60  # a hang guard only: the kernel sends the signal at once
    while not got.exists():
        assert time.monotonic() < deadline, "the orphaned child never got SIGTERM"
        time.sleep(0.05)
