"""Python source that makes some packages unimportable, for tests run in a fresh interpreter.

The tests that prove a part of Seer works without an optional dependency (a worker without
torchx/kubernetes/kopf/rich, the operator without torchx/rich, seerctl without torchx) run a
script with ``python -c`` so that no earlier test has imported the package already; each
script starts with :func:`blocking_prelude`.
"""

from __future__ import annotations

import textwrap


def blocking_prelude(*packages: str) -> str:
    """Source that defines ``BLOCKED`` (= ``packages``) and installs a meta-path finder under which
    importing any of them, or a submodule, raises ImportError, as on an install without them."""
    return textwrap.dedent(
        f"""
        import sys

        BLOCKED = {packages!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked for this test: {{name}}")
                return None

        sys.meta_path.insert(0, Block())
        """
    )
