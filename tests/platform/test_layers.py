"""The layering of docs/architecture.md holds: the platform imports neither the trainer nor
the operator, those two never import each other, and no module imports itself through a
cycle. Read from the source (every ``import`` statement, lazy ones inside functions too)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"platform": "seer.platform", "trainer": "seer.trainer", "operators": "seer.operators"}
ALLOWED = {("trainer", "platform"), ("operators", "platform")}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _imports() -> dict[str, set[str]]:
    modules = _modules()
    by_length = sorted(modules, key=len, reverse=True)
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                target = next((m for m in by_length if name == m or name.startswith(m + ".")), None)
                if target and target != module:
                    graph[module].add(target)
    return graph


def test_packages_only_import_downwards():
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in _imports().items()
        for target in targets
        if module.split(".")[1] != target.split(".")[1] and (module.split(".")[1], target.split(".")[1]) not in ALLOWED
    )
    assert wrong == []


def test_no_module_imports_itself_through_a_cycle():
    graph = _imports()
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in list(graph):
        if module not in index:
            visit(module)
    assert cycles == []
