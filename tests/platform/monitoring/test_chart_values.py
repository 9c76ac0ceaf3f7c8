"""The chart README's values table is generated from the `# --` comments of values.yaml,
every value has one, and the committed README is in sync."""

from __future__ import annotations

import pytest

from seer.platform.monitoring import chart_values as cv
from seer.platform.monitoring.dashboard import repo_root

CHART = repo_root() / cv.CHART_RELPATH


def test_every_value_of_the_chart_is_documented_and_the_readme_table_is_in_sync():
    values = cv.documented_values((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    assert cv.with_table(readme, cv.values_table(values)) == readme, (
        "run python -m seer.platform.monitoring.chart_values --write"
    )
    assert {"image.repository", "rbac.namespaced", "monitoring.dashboard.enabled", "operator.resources"} <= {
        v.path for v in values
    }


def test_a_value_without_a_comment_is_reported_by_its_path():
    text = "a:\n  # -- documented\n  b: 1\n  c: 2\n# -- a map documented as a whole\nd:\n  e: {}\n"
    with pytest.raises(cv.UndocumentedValue, match=r"a\.c"):
        cv.documented_values(text)


def test_documented_maps_are_one_row_and_defaults_are_json():
    text = "# -- resources\nresources:\n  requests:\n    cpu: 100m\n# -- flag\nflag: false\n"
    table = cv.values_table(cv.documented_values(text))
    assert '| `resources` | object | `{"requests": {"cpu": "100m"}}` | resources |' in table
    assert "| `flag` | bool | `false` | flag |" in table


def test_check_mode_fails_on_a_stale_table(tmp_path):
    (tmp_path / "values.yaml").write_text("# -- x\nx: 1\n")
    (tmp_path / "README.md").write_text(f"intro\n{cv.BEGIN}\nold\n{cv.END}\nend\n")
    assert cv.main(["--check", "--chart", str(tmp_path)]) == 1
    assert cv.main(["--write", "--chart", str(tmp_path)]) == 0
    assert cv.main(["--check", "--chart", str(tmp_path)]) == 0
    assert "| `x` | int | `1` | x |" in (tmp_path / "README.md").read_text()
