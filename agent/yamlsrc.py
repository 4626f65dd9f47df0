"""YAML input files read with the line of every key, and validation errors turned into file:line problems."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from agent.errors import Problem

Loc = tuple[str | int, ...]
MAX_BYTES = 8 * 1024 * 1024  # a config with a long user list is a few MB at most
MAX_VALUES = 200_000  # values a document may expand to through aliases (a 10,000-user scope is 10,000)
MAX_DEPTH = 64
# libyaml's parser when PyYAML has it: ten times faster; the same safe constructor and line marks
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
_CHOICE_LIKE = re.compile(r"[a-z][a-z_. -]{0,23}")  # what a mistyped choice looks like; secrets do not

# pydantic's names for input types, in the words of a YAML author.
_YAML_TYPES = {
    "dict": "a mapping",
    "list": "a list",
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "NoneType": "null",
    "datetime": "a timestamp",
    "date": "a date",
}


class YamlSyntaxError(Exception):
    """The file is not valid YAML; carries the problem with its line."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


@dataclass
class YamlDoc:
    """A parsed YAML document plus the line (1-based) of each mapping key and list item."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    duplicate_keys: list[Problem] = field(default_factory=list)
    walked: set[int] = field(default_factory=set, repr=False)  # nodes whose lines are recorded

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of `loc`, or of its nearest ancestor that is in the file (a missing key's parent)."""
        parts = tuple(loc)
        for end in range(len(parts), -1, -1):
            line = self.lines.get(parts[:end])
            if line is not None:
                return line
        return None


def read_yaml(path: Path, display: str | None = None) -> YamlDoc:
    """Parse one YAML file; YamlSyntaxError names file:line; OSError is left to the caller."""
    with path.open("rb") as handle:  # bounded: a huge file (or a device) is refused, not read whole
        raw = handle.read(MAX_BYTES + 1)
    name = display or str(path)
    if len(raw) > MAX_BYTES:
        raise YamlSyntaxError(Problem(name, None, f"larger than {MAX_BYTES // (1024 * 1024)} MB: not a "
                                                   "config, playbook or policy file"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(Problem(name, None, f"not UTF-8 text (byte {exc.start})")) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, file: str) -> YamlDoc:
    """Parse YAML text attributed to `file` (safe loader: no Python objects; aliases, nesting and
    size bounded, so a small file cannot expand into gigabytes)."""
    if "\x00" in text:
        raise YamlSyntaxError(Problem(file, None, "YAML syntax error: the file contains NUL bytes"))
    if _FAST_LOADER is not None:
        try:
            return _document(_FAST_LOADER(text), file)
        except (yaml.YAMLError, RecursionError, ValueError):
            pass  # not valid YAML: the pure-Python parser below names the problem in its own words
    return _document(yaml.SafeLoader(text), file, explain=True)


def _document(loader: Any, file: str, explain: bool = False) -> YamlDoc:
    """Compose, bound and construct one document; with `explain`, YAML errors become file:line
    problems (otherwise they propagate, for the caller to parse again with the readable parser)."""
    try:
        node = loader.get_single_node()
        if node is not None:
            check_expansion(node, file)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        if not explain:
            raise
        raise YamlSyntaxError(Problem(file, None, "YAML syntax error: nested too deeply")) from None
    except yaml.MarkedYAMLError as exc:
        if not explain:
            raise
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlSyntaxError(Problem(file, line, f"YAML syntax error: {_syntax_message(exc)}")) from None
    except yaml.YAMLError as exc:
        if not explain:
            raise
        raise YamlSyntaxError(Problem(file, None, f"YAML syntax error: {str(exc).splitlines()[0]}")) from None
    finally:
        loader.dispose()
    doc = YamlDoc(file, data)
    if node is not None:
        _walk(node, (), doc, set())
    return doc


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem first, then what it was parsing and where that started."""
    problem, context = exc.problem, exc.context
    if not problem or not context:
        return problem or context or "invalid YAML"
    started = exc.context_mark.line + 1 if exc.context_mark else None
    if problem.startswith("but "):  # "expected a single document ..., but found another document"
        return f"{context}, {problem}"
    if started is not None and exc.problem_mark is not None and started != exc.problem_mark.line + 1:
        return f"{problem} ({context} started on line {started})"
    return f"{problem} ({context})"


def check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a document deeper than MAX_DEPTH or whose aliases expand it past MAX_VALUES values."""
    sizes: dict[int, int] = {}
    order: list[tuple[yaml.Node, int]] = []
    todo: list[tuple[yaml.Node, int]] = [(root, 1)]
    while todo:  # every distinct node once, children before parents afterwards
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(Problem(file, node.start_mark.line + 1,
                                          f"YAML nested more than {MAX_DEPTH} levels deep"))
        if id(node) in sizes:
            continue
        sizes[id(node)] = 0
        order.append((node, depth))
        todo += [(child, depth + 1) for child in _children(node)]
    for node, _ in reversed(order):
        size = 1 + sum(sizes.get(id(child), 0) for child in _children(node))
        if size > MAX_VALUES:
            raise YamlSyntaxError(Problem(file, node.start_mark.line + 1,
                                          f"YAML expands to more than {MAX_VALUES:,} values (aliases)"))
        sizes[id(node)] = size


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _walk(node: yaml.Node, loc: Loc, doc: YamlDoc, stack: set[int]) -> None:
    if id(node) in stack:  # a recursive alias; its lines are already recorded
        return
    doc.lines.setdefault(loc, node.start_mark.line + 1)
    if id(node) in doc.walked:  # an alias of a node walked before: its own lines are recorded once
        return
    doc.walked.add(id(node))
    stack.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                # PyYAML keeps the last one silently; an author almost never means that.
                doc.duplicate_keys.append(
                    Problem(doc.file, line, f"duplicate key '{key}' (first on line {seen[key]})")
                )
            seen[key] = line
            doc.lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), doc, stack)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), doc, stack)
    stack.discard(id(node))


def format_loc(loc: Sequence[str | int]) -> str:
    """('connectors', 1, 'kind') -> 'connectors[1].kind'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_errors(title: str, problems: list[tuple[Loc, str]]) -> ValidationError:
    """Cross-field problems as a ValidationError to raise in a model validator: pydantic prefixes each
    loc with the model's own position, so every message names its full field path."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("invalid", "{message}", {"message": msg}), loc=loc, input=None
        )
        for loc, msg in problems
    ]
    return ValidationError.from_exception_data(title, details)


def validation_problems(
    exc: ValidationError, doc: YamlDoc, model: type[BaseModel] | None = None, prefix: Loc = ()
) -> list[Problem]:
    """One Problem per pydantic error: line from the YAML, `field.path: message`, never the secret input."""
    problems = []
    for err in exc.errors(include_url=False, include_context=True, include_input=True):
        loc: Loc = (*prefix, *err["loc"])
        message = describe_error(err, model, tuple(err["loc"]))
        where = format_loc(loc)
        problems.append(Problem(doc.file, doc.line_of(loc), f"{where}: {message}" if where else message))
    return problems


def describe_error(err: Any, model: type[BaseModel] | None, loc: Loc) -> str:
    """A pydantic error as one plain sentence; inputs are echoed only for enum choices."""
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        valid = fields_at(model, loc[:-1]) if model is not None else None
        return f"unknown field '{loc[-1]}'" + (f"; valid: {', '.join(valid)}" if valid else "")
    if kind == "missing":
        return "required field is missing"
    if kind in ("literal_error", "enum"):
        choices = _choices(err.get("ctx", {}).get("expected", ""))
        return f"invalid value{echo(err.get('input'), choices)}; valid: {choices}"
    for lead in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(lead)
    if kind.endswith(("_type", "_parsing")):
        got = type(err.get("input")).__name__
        msg += f" (got {_YAML_TYPES.get(got, got)})"
    return str(msg)


def fields_at(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The field names (as written in YAML) of the model found at `loc` inside `model`."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue  # list index: the item type is the same model
        found = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        current = _submodel(found.annotation) if found is not None else None
    if current is None:
        return None
    return sorted(f.alias or n for n, f in current.model_fields.items())


def _submodel(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in get_args(tp):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _choices(expected: str) -> str:
    # pydantic writes "'a', 'b' or 'c'"; a list reads better next to "valid:".
    return expected.replace("' or '", "', '").replace("'", "")


def echo(value: Any, choices: str) -> str:
    """The invalid value when it reads like a choice (a lower-case word, or a near miss of one); a
    secret pasted into the wrong field (mixed case, digits, symbols) is never printed back."""
    import difflib

    options = [c.strip() for c in choices.split(",")]
    text = str(value) if isinstance(value, (str, int, float, bool)) else ""
    wordlike = bool(_CHOICE_LIKE.fullmatch(text)) or isinstance(value, (int, float, bool))
    if wordlike or (text and difflib.get_close_matches(text, options, n=1, cutoff=0.75)):
        return f" {_short(value)}"
    return " (not shown: it is none of the choices)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
