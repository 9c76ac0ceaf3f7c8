"""The image's inputs agree with the rest of the repository (no buildah needed).

``scripts/image build`` and ``scripts/image smoke`` build and run the image for real (CI runs
them); these checks catch, in the unit-test run, the drift that would only show there:
a file ``pip install .`` needs left out of the build context, and a tag that the chart or the
operator's default worker image does not expect.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from seer.platform.spec import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[2]


def _dockerignore_admits(path: str, patterns: list[str]) -> bool:
    """Whether the allow-list ``.dockerignore`` lets the top-level entry of ``path`` into the
    build context (the last matching pattern wins; ``!`` re-includes), as buildah and docker do."""
    top = path.split("/")[0]
    admitted = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if "/" not in body and fnmatch.fnmatch(top, body):
            admitted = negate
    return admitted


def _patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _needed_by_pip_install() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed.update(project["project"].get("license-files", []))
    needed.update(project["build-system"].get("backend-path", []))
    needed.update(project["tool"]["setuptools"]["package-dir"].values())
    return needed


def test_build_context_admits_everything_pip_install_needs() -> None:
    patterns = _patterns()
    missing = sorted(p for p in _needed_by_pip_install() if not _dockerignore_admits(p, patterns))
    assert not missing, f"add '!{missing[0]}' to .dockerignore: `pip install .` in the image needs {missing}"


def test_build_context_leaves_out_what_the_image_does_not_need() -> None:
    patterns = _patterns()
    for path in ("tests", "bench", "docs", ".venv", ".git", "data", "charts", "examples"):
        assert not _dockerignore_admits(path, patterns), f"{path} would be copied into the image"


def _image_tag(variant: str) -> str:
    result = subprocess.run(
        [str(ROOT / "scripts/image"), "tag", "--variant", variant], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_chart_and_operator_default_to_the_tag_that_the_cuda_build_makes() -> None:
    values = yaml.safe_load((ROOT / "charts/seer/values.yaml").read_text())
    chart = yaml.safe_load((ROOT / "charts/seer/Chart.yaml").read_text())
    chart_image = f"{values['image']['repository']}:{values['image']['tag'] or chart['appVersion']}"
    assert _image_tag("cuda") == chart_image == DEFAULT_IMAGE


def test_cpu_build_is_tagged_apart_from_the_cuda_image() -> None:
    assert _image_tag("cpu") == f"{_image_tag('cuda')}-cpu"


def test_dockerfile_default_torch_is_the_pinned_one() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    default = re.search(r"^ARG TORCH_VERSION=(\S+)$", dockerfile, re.M)
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "constraints/ci.txt").read_text(), re.M)
    assert default and pinned and default.group(1) == pinned.group(1)
