"""Reading a job file into a `SeerJob`, with errors written for people.

Every way a job file can be wrong ends in one `SpecError`: a list of problems, each
with the field path (``spec.swav.crops.counts``), where it is in the file (line and
column when known), what is wrong and what is allowed. ``seerctl`` prints it and
exits with status 2; nothing here writes to disk.

Hostile input has bounded cost (issue 12): a job file is kilobytes, so at most
`MAX_FILE_BYTES` are read (``/dev/zero`` and a 50 MB file stop there); nesting deeper
than `MAX_DEPTH` is refused while scanning the event stream, before any recursive step
(the composer recurses per level); at most `MAX_PROBLEMS_SHOWN` problems are worked
out and printed, the rest are counted. Duplicate keys, which YAML and JSON parsers
resolve silently in favour of the last one, are errors naming both lines.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from seer.platform.contract import EXIT_BAD_SPEC
from seer.platform.spec import SeerJob

__all__ = [
    "EXIT_BAD_SPEC",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS_SHOWN",
    "Problem",
    "SpecError",
    "load_job",
    "parse_job",
    "validate_document",
]

#: Largest job file read. The biggest real job file is a few kilobytes; 1 MiB leaves
#: room for long source lists while keeping the worst case well under a second.
MAX_FILE_BYTES = 1024 * 1024
#: Deepest nesting of mappings and lists accepted. The spec itself is 5 levels deep.
MAX_DEPTH = 64
#: Problems worked out and printed; the rest are only counted ("... and N more").
MAX_PROBLEMS_SHOWN = 20

# libyaml's parser and composer are C and about 10x faster than the pure-Python ones;
# the composer's recursion is safe because depth is bounded before it runs.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a job file."""

    path: str  # dotted field path, e.g. "spec.resources.nodes"; "" for the document
    message: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def render(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        label = self.path or "document"
        return f"{label}{where}: {self.message}"


class SpecError(Exception):
    """A job file that cannot become a SeerJob. ``str()`` is the full human message.

    ``more``: problems found beyond ``problems`` that were counted but not worked out.
    At most `MAX_PROBLEMS_SHOWN` problems are rendered, so the message stays bounded.
    """

    def __init__(self, source: str, problems: list[Problem], more: int = 0) -> None:
        self.source = source
        self.problems = problems
        self.more = more
        super().__init__(self.render())

    @property
    def total(self) -> int:
        return len(self.problems) + self.more

    def render(self) -> str:
        head = f"{self.source} is not a valid SeerJob"
        if self.total == 1:
            return f"{head}: {self.problems[0].render()}"
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        lines = [f"{head} ({self.total} problems):", *(f"  - {p.render()}" for p in shown)]
        if self.total > len(shown):
            lines.append(f"  ... and {self.total - len(shown)} more")
        return "\n".join(lines)


def load_job(path: str | Path) -> SeerJob:
    """Read and validate a job file; raises `SpecError` for every kind of bad input."""
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise SpecError(source, [Problem("", f"file not found: {p.resolve()}")])
    if p.is_dir():
        raise SpecError(source, [Problem("", "is a directory; give the path of a YAML job file")])
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # never more: /dev/zero has no end
    except OSError as exc:
        raise SpecError(source, [Problem("", f"cannot be read: {exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(
            source,
            [Problem("", "is larger than 1 MiB; a job file is a few kilobytes (is this the right file?)")],
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(source, [Problem("", f"cannot be read: {exc}")]) from None
    return parse_job(text, source)


def parse_job(text: str, source: str = "<job>") -> SeerJob:
    """Validate YAML (or JSON) text as a SeerJob."""
    try:
        _check_depth(text, source)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _raise_on_duplicate_keys(node, loader, source)
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem or exc}" + (f" ({exc.context})" if exc.context else "")
        raise SpecError(
            source,
            [Problem("", message, line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None)],
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(source, [Problem("", f"YAML error: {exc}")]) from None
    if document is None:
        raise SpecError(source, [Problem("", "is empty; start from examples/quickstart.yaml")])
    if not isinstance(document, dict):
        raise SpecError(
            source,
            [Problem("", f"must be a mapping with `metadata` and `spec`, not a {type(document).__name__}")],
        )
    return validate_document(document, source, node)


def validate_document(document: dict[str, Any], source: str = "<job>", node: yaml.Node | None = None) -> SeerJob:
    """Validate an already parsed document; ``node`` (from ``yaml.compose``) adds line numbers."""
    try:
        return SeerJob.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # Distinct (location, kind) pairs are counted cheaply; only the first few are
        # worked out (suggestions, positions), so 40,000 unknown keys cost one pass.
        distinct = list({(tuple(e.get("loc", ())), e.get("type", "")): e for e in errors}.values())
        problems = _dedupe([_problem_from(err, node) for err in distinct[:MAX_PROBLEMS_SHOWN]])
        raise SpecError(source, problems, more=len(distinct) - min(len(distinct), MAX_PROBLEMS_SHOWN)) from None


# ------------------------------------------------------------------------- internals


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than `MAX_DEPTH`, scanning parser events (no recursion)."""
    loader = _Loader(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(source, event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        # libyaml's scanner runs ahead of the parser and has its own (higher) limit.
        if "nesting depth" in str(exc.problem):
            raise _too_deep(source, exc.problem_mark) from None
        raise
    finally:
        loader.dispose()


def _too_deep(source: str, mark: yaml.Mark | None) -> SpecError:
    message = f"nested more than {MAX_DEPTH} levels deep; a job file needs about 5"
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return SpecError(source, [Problem("", message, line=line, column=column)])


def _raise_on_duplicate_keys(root: yaml.Node, loader: yaml.SafeLoader, source: str) -> None:
    """Every mapping key given twice, with both lines; keys compare as YAML types them.

    Walks the node graph iteratively and visits each node once: aliases make it a DAG,
    and a "billion laughs" file would otherwise be walked exponentially. A merge key
    (``<<``) is not a duplicate of the keys it brings in: overriding those is its purpose.
    """
    problems: list[Problem] = []
    more = 0
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*loc, i)) for i, child in reversed(list(enumerate(node.value))))
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            children = []
            for key_node, value_node in node.value:
                key = _key_of(key_node, loader)
                if key is not None:
                    line = key_node.start_mark.line + 1
                    if key in first_line:
                        if len(problems) < MAX_PROBLEMS_SHOWN:
                            problems.append(
                                Problem(
                                    _dotted((*loc, key_node.value)),
                                    f"duplicate key `{key_node.value}`: first at line {first_line[key]}, again at "
                                    f"line {line}; keep one (YAML and JSON readers would silently keep the last)",
                                    line=line,
                                    column=key_node.start_mark.column + 1,
                                )
                            )
                        else:
                            more += 1
                    else:
                        first_line[key] = line
                children.append((value_node, (*loc, key_node.value if isinstance(key_node, yaml.ScalarNode) else "?")))
            stack.extend(reversed(children))
    if problems:
        raise SpecError(source, problems, more=more)


def _key_of(key_node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """The key as YAML types it (``yes`` == ``true``), or None when it cannot be compared."""
    if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
        return None
    try:
        key = loader.construct_object(key_node)
        hash(key)
    except (yaml.YAMLError, TypeError):
        return None
    return (type(key).__name__, key)


def _problem_from(err: dict[str, Any], node: yaml.Node | None) -> Problem:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    message = str(err.get("msg", "invalid"))
    if kind == "extra_forbidden":
        key = str(loc[-1])
        valid = _valid_keys(loc[:-1])
        guess = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        hint = f"did you mean `{guess[0]}`? " if guess else ""
        message = f"unknown key `{key}`; {hint}valid keys here: {', '.join(valid)}"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "finite_number":
        message = f"must be a finite number (got {err.get('input')!r})"
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        got = err.get("input")
        message = f"{message} (got {_short(got)})"
    line, column = _position(node, loc)
    return Problem(_dotted(loc), message, line, column)


def _short(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters: a wrong value can be a megabyte long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """The camelCase keys accepted at ``loc`` (walks the model tree by alias)."""
    model: type[BaseModel] | None = SeerJob
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        if field is None:
            return []
        model = _model_in(field.annotation)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _position(node: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """Line/column of the deepest YAML node along ``loc`` (the key itself for unknown keys)."""
    best: yaml.Node | None = node
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            match = next(((k, v) for k, v in current.value if k.value == part), None)
            if match is None:
                break
            key_node, current = match
            best = key_node if part == loc[-1] else current
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
            best = current
        else:
            break
    if best is None:
        return None, None
    return best.start_mark.line + 1, best.start_mark.column + 1


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out
