"""Playbooks as data: YAML files validated in stages into Playbook objects; problems carry file:line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from agent.errors import PlaybookError, Problem
from agent.model import Risk
from agent.playbook.paths import default_paths, shipped_paths, yaml_files
from agent.playbook.relations import KINDS, Relation, Relations, find_cycle
from agent.playbook.schema import AREAS, PlaybookSpec, Symptom
from agent.playbook.summary import PlaybookSummary
from agent.yamlsrc import YamlDoc, YamlSyntaxError, format_loc, read_yaml, validation_problems

if TYPE_CHECKING:  # the registry comes with the catalog, which only stage 3 needs
    from agent.registry import Detector, Fixer


@dataclass(frozen=True)
class Playbook:
    """A validated playbook: what explain matches, which detector and fixer run, and the advice."""

    id: str
    title: str
    area: str
    applies_to: tuple[str, ...]
    symptoms: tuple[Symptom, ...]
    detector_cls: type[Detector]
    detector_params: BaseModel
    fixer_cls: type[Fixer] | None
    fixer_params: BaseModel | None
    risk: Risk | None  # None for advice-only playbooks
    advice: str
    references: tuple[str, ...]
    source: Path
    relations: Relations = field(default_factory=Relations)
    expires_after: str | None = None  # fix.expires_after: the default lifetime of the grants it makes

    @property
    def detector_name(self) -> str:
        return self.detector_cls.name

    @property
    def fixer_name(self) -> str | None:
        return self.fixer_cls.name if self.fixer_cls is not None else None

    def summary(self) -> PlaybookSummary:
        """This playbook in one row, as `agent playbooks list` shows it."""
        risk = self.risk.value if self.risk is not None else None
        return PlaybookSummary(self.id, self.title, self.area, self.applies_to, self.detector_name,
                               self.fixer_name, risk, str(self.source))

    def make_detector(self) -> Detector:
        """A fresh detector configured with this playbook's `detect.with`."""
        return self.detector_cls(self.detector_params.model_copy(deep=True))

    def make_fixer(self) -> Fixer | None:
        """A fresh fixer configured with `fix.with`, or None for an advice-only playbook."""
        if self.fixer_cls is None or self.fixer_params is None:
            return None
        return self.fixer_cls(self.fixer_params.model_copy(deep=True))


@dataclass
class _File:
    """One file on its way through the stages."""

    path: Path
    display: str
    doc: YamlDoc | None = None
    problems: list[Problem] = field(default_factory=list)
    spec: PlaybookSpec | None = None  # set when stage 2 passed
    classes: dict[str, Any] = field(default_factory=dict)  # section -> (class, params)

    def problem(self, loc: Sequence[str | int], message: str) -> None:
        line = self.doc.line_of(loc) if self.doc is not None else None
        where = format_loc(loc)
        self.problems.append(Problem(self.display, line, f"{where}: {message}" if where else message))


def ensure_catalog_loaded() -> None:
    """Register every detector and fixer (the catalog package imports each of its modules by name)."""
    import agent.catalog  # noqa: F401  (imported for its registrations)


def load_playbooks(paths: Iterable[str | Path] | None = None) -> list[Playbook]:
    """Every playbook under `paths` (files or folders); PlaybookError lists every problem in all files."""
    ensure_catalog_loaded()
    checked = _checked_files(paths, resolve=True)
    return sorted((_build(f) for f in checked), key=lambda pb: (pb.area, pb.id))


def read_summaries(paths: Iterable[str | Path] | None = None) -> list[PlaybookSummary]:
    """Every playbook's summary, from its file alone: syntax, schema, ids, folders and relations are checked,
    but the catalog is not loaded (it would bring in the client layer), so an unknown `use:` name or a bad
    `with:` shows only in `load_playbooks` (`agent playbooks validate`). A fix without its own `risk:` takes
    its fixer's declared risk, which does load the catalog."""
    checked = _checked_files(paths, resolve=False)
    return sorted((_summary(f) for f in checked), key=lambda s: (s.area, s.id))


def _checked_files(paths: Iterable[str | Path] | None, resolve: bool) -> list[_File]:
    files, problems = _expand([Path(p) for p in paths] if paths is not None else default_paths())
    checked = [_check_file(f, resolve) for f in files]
    problems += _duplicate_ids(checked)
    problems += _relation_problems(checked)
    problems += [p for f in checked for p in f.problems]
    if problems:
        raise PlaybookError(problems)
    return checked


def _summary(f: _File) -> PlaybookSummary:
    spec = f.spec
    assert spec is not None  # only called when there were no problems
    fix, risk = spec.fix, None
    if fix is not None:
        risk = fix.risk or _declared_risk(f, fix.use)
    return PlaybookSummary(spec.id, spec.title, spec.area, tuple(spec.applies_to), spec.detect.use,
                           fix.use if fix is not None else None, risk, str(f.path))


def _declared_risk(f: _File, name: str) -> str:
    from agent import registry

    ensure_catalog_loaded()
    try:
        return registry.fixer(name).risk.value
    except registry.UnknownName as exc:
        raise PlaybookError([_at(f, ("fix", "use"), str(exc))]) from None


def _expand(paths: list[Path]) -> tuple[list[_File], list[Problem]]:
    files: list[_File] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = yaml_files(path)
            files += [_File(p, _display(p)) for p in found]
            if not found:  # a typo'd or empty folder would otherwise check nothing and report healthy
                problems.append(Problem(_display(path), None, "no playbook files (*.yaml) in this folder"))
        elif path.is_file():
            files.append(_File(path, _display(path)))
        else:
            problems.append(Problem(_display(path), None, "no such playbook file or folder"))
    return files, problems


def _display(path: Path) -> str:
    """Paths under the working folder are shown relative to it; others as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check_file(f: _File, resolve: bool = True) -> _File:
    """Stages 1-4 for one file (stage 3, the registry, only when `resolve`); problems accumulate on `f`."""
    try:
        f.doc = read_yaml(f.path, f.display)
    except YamlSyntaxError as exc:
        f.problems.append(exc.problem)
        return f
    except (OSError, UnicodeDecodeError) as exc:
        f.problems.append(Problem(f.display, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
        return f
    if not isinstance(f.doc.data, dict):
        f.problems.append(Problem(f.display, 1, "a playbook must be a mapping (id:, title:, area: ...)"))
        return f
    f.problems += f.doc.duplicate_keys
    try:
        f.spec = PlaybookSpec.model_validate(f.doc.data)
    except ValidationError as exc:
        f.problems += validation_problems(exc, f.doc, PlaybookSpec)
    if resolve:
        _check_uses(f, f.doc)
    _check_cross_fields(f, f.doc.data)
    return f


def _check_uses(f: _File, doc: YamlDoc) -> None:
    """Stage 3: `use:` names a registered class, whose params_model validates `with:`."""
    from agent import registry

    for section, lookup in (("detect", registry.detector), ("fix", registry.fixer)):
        spec = doc.data.get(section)
        if not isinstance(spec, dict) or not isinstance(spec.get("use"), str):
            continue  # stage 2 reported it
        try:
            cls: Any = lookup(spec["use"])
        except registry.UnknownName as exc:
            f.problem((section, "use"), str(exc))
            continue
        params = spec.get("with") or {}
        if not isinstance(params, dict):
            continue
        try:
            f.classes[section] = (cls, cls.params_model.model_validate(params))
        except ValidationError as exc:
            f.problems += validation_problems(exc, doc, cls.params_model, (section, "with"))


def _check_cross_fields(f: _File, data: dict[str, Any]) -> None:
    """Stage 4: id matches the file name, area the folder, fix.risk not below the fixer's own."""
    pid, area = data.get("id"), data.get("area")
    if isinstance(pid, str) and pid != f.path.stem:
        f.problem(("id",), f"'{pid}' must equal the file name '{f.path.stem}'")
    folder = f.path.parent.name
    if isinstance(area, str) and folder in AREAS and area != folder:
        f.problem(("area",), f"'{area}' does not match its folder '{folder}'")
    fix = data.get("fix")
    if "fix" in f.classes and isinstance(fix, dict) and fix.get("risk") in ("low", "medium", "high"):
        declared: Risk = f.classes["fix"][0].risk
        if Risk(fix["risk"]).rank < declared.rank:
            f.problem(
                ("fix", "risk"),
                f"'{fix['risk']}' is lower than fixer '{fix['use']}' declares "
                f"({declared.value}); valid: {_at_least(declared)}",
            )


def _at_least(risk: Risk) -> str:
    return ", ".join(r.value for r in Risk if r.rank >= risk.rank)


def _duplicate_ids(files: list[_File]) -> list[Problem]:
    """The same id in two files: name both files, each with the line of its id."""
    first: dict[str, _File] = {}
    problems = []
    for f in files:
        data = f.doc.data if f.doc is not None else None
        pid = data.get("id") if isinstance(data, dict) else None
        if not isinstance(pid, str) or f.doc is None:
            continue
        if pid in first:
            other = first[pid]
            where = f"{other.display}:{other.doc.line_of(('id',)) if other.doc else '?'}"
            problems.append(
                Problem(f.display, f.doc.line_of(("id",)), f"id: duplicate id '{pid}' (also in {where})")
            )
        else:
            first[pid] = f
    return problems


def _relation_problems(files: list[_File]) -> list[Problem]:
    """Relations name known causes, never their own playbook, and form no cycle (with file:line)."""
    specs = [f for f in files if f.spec is not None]
    known = {f.spec.id for f in specs if f.spec is not None} | _builtin_ids()
    problems: list[Problem] = []
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], tuple[_File, tuple[str | int, ...]]] = {}
    for f in specs:
        assert f.spec is not None and f.doc is not None
        for kind in KINDS:
            for i, rel in enumerate(getattr(f.spec, kind)):
                loc: tuple[str | int, ...] = (kind, i, "cause")
                if rel.cause == f.spec.id:
                    problems.append(_at(f, loc, f"'{rel.cause}' is this playbook's own id"))
                elif rel.cause not in known:
                    problems.append(_at(f, loc, f"unknown cause id '{rel.cause}'; valid: "
                                                f"{', '.join(sorted(known - {f.spec.id}))}"))
                else:
                    edges.setdefault(f.spec.id, set()).add(rel.cause)
                    where.setdefault((f.spec.id, rel.cause), (f, loc))
    cycle = find_cycle(edges)
    if cycle is not None:
        f, loc = where[(cycle[0], cycle[1])]
        problems.append(_at(f, loc, f"relations form a cycle: {' -> '.join(cycle)}"))
    return problems


def _at(f: _File, loc: tuple[str | int, ...], message: str) -> Problem:
    line = f.doc.line_of(loc) if f.doc is not None else None
    return Problem(f.display, line, f"{format_loc(loc)}: {message}")


def _builtin_ids() -> set[str]:
    """The ids of the shipped and configured playbooks: a file checked on its own may relate to them."""
    ids: set[str] = set()
    for folder in {*default_paths(), *shipped_paths()}:
        paths = folder.rglob("*.y*ml") if folder.is_dir() else [folder] if folder.is_file() else []
        ids.update(path.stem for path in paths)  # stage 4 makes every id equal its file name
    return ids


def _build(f: _File) -> Playbook:
    """The Playbook of a file that passed every stage."""
    spec = f.spec
    assert spec is not None  # only called when there were no problems
    detector_cls, detector_params = f.classes["detect"]
    fixer_cls, fixer_params = f.classes.get("fix", (None, None))
    risk = None
    if fixer_cls is not None:
        risk = Risk(spec.fix.risk) if spec.fix is not None and spec.fix.risk else fixer_cls.risk
    return Playbook(
        id=spec.id,
        title=spec.title,
        area=spec.area,
        applies_to=tuple(spec.applies_to),
        symptoms=tuple(spec.symptoms),
        detector_cls=detector_cls,
        detector_params=detector_params,
        fixer_cls=fixer_cls,
        fixer_params=fixer_params,
        risk=risk,
        advice=spec.advice,
        references=tuple(spec.references),
        source=f.path,
        relations=Relations(tuple(Relation(kind, r.cause, r.why)
                                  for kind in KINDS for r in getattr(spec, kind))),
        expires_after=spec.fix.expires_after if spec.fix is not None else None,
    )
