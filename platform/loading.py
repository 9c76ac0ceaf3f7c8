"""Reading a job file into a `SeerJob`, with errors written for people.

Every way a job file can be wrong ends in one `SpecError`: a list of problems, each
with the field path (``spec.swav.crops.counts``), where it is in the file (line and
column when known), what is wrong and what is allowed. ``seerctl`` prints it and
exits with status 2; nothing here writes to disk.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from seer.platform.spec import SeerJob

#: Exit status for a job file that is not valid (argparse uses the same for bad usage).
EXIT_BAD_SPEC = 2


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
    """A job file that cannot become a SeerJob. ``str()`` is the full human message."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{self.source} is not a valid SeerJob" + (f" ({n} problems)" if n > 1 else "")
        return head + ":\n" + "\n".join(f"  - {p.render()}" for p in self.problems)


def load_job(path: str | Path) -> SeerJob:
    """Read and validate a job file; raises `SpecError` for every kind of bad input."""
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise SpecError(source, [Problem("", f"file not found: {p.resolve()}")])
    if p.is_dir():
        raise SpecError(source, [Problem("", "is a directory; give the path of a YAML job file")])
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, [Problem("", f"cannot be read: {exc}")]) from None
    return parse_job(text, source)


def parse_job(text: str, source: str = "<job>") -> SeerJob:
    """Validate YAML (or JSON) text as a SeerJob."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
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
        problems = [_problem_from(err, document, node) for err in exc.errors(include_url=False)]
        raise SpecError(source, _dedupe(problems)) from None


# ------------------------------------------------------------------------- internals


def _problem_from(err: dict[str, Any], document: dict[str, Any], node: yaml.Node | None) -> Problem:
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
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        got = err.get("input")
        message = f"{message} (got {got!r})"
    line, column = _position(node, loc)
    return Problem(_dotted(loc), message, line, column)


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
