"""Job files a reader must refuse at once, written the same way for the tests and the bench.

``tests/platform/test_job_file_hardening.py`` checks that ``seerctl`` refuses them with exit
status 2 and bounded output; ``bench/job_file_cost.py`` times those refusals. Both use these
writers so the bench measures exactly the files the tests check.
"""

from __future__ import annotations

from pathlib import Path

#: Nesting depth of :func:`write_deep`'s file: far past any limit a reader may have.
DEEP_LEVELS = 200_000


def write_fifty_megabytes(path: Path) -> Path:
    """A syntactically fine YAML job of 50 MB (10,000 distinct keys, repeated)."""
    with path.open("w") as f:
        f.write("metadata: {name: demo}\nspec:\n  data:\n")
        chunk = "".join(f"    key{i}: {i}\n" for i in range(10_000))
        while f.tell() < 50_000_000:
            f.write(chunk)
    return path


def write_deep(path: Path) -> Path:
    """A job whose ``spec`` is :data:`DEEP_LEVELS` nested flow sequences."""
    path.write_text("metadata: {name: demo}\nspec: " + "[" * DEEP_LEVELS + "]" * DEEP_LEVELS + "\n")
    return path
