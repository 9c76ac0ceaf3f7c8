"""The project's PEP 517 build backend: setuptools, writing entry points in declared order.

Why: TorchX 0.7.0 takes the FIRST entry of the ``torchx.schedulers`` group as its default
scheduler (``torchx.schedulers.get_default_scheduler_name``), and setuptools writes every
group's entries sorted by name. ``pyproject.toml`` lists TorchX's own schedulers again in
TorchX's order (``local_docker`` first, TorchX's default) so that installing Seer adds a
scheduler instead of changing the default to whatever sorts first (``aws_batch``).

Invariant: everything else is setuptools' ``build_meta`` unchanged; only the order of the
lines inside one entry-point group differs (groups stay sorted, names unchanged).
"""

from __future__ import annotations

from setuptools import _entry_points
from setuptools.build_meta import *  # noqa: F403 (the PEP 517 hooks, re-exported)
from setuptools.build_meta import __all__  # noqa: F401


def _render_items_in_declared_order(eps) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(f"{ep.name} = {ep.value}" for ep in eps)


_entry_points.render_items = _render_items_in_declared_order
