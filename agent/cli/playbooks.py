"""`agent playbooks list|show|validate`: the playbooks as a table, one in full, or every problem found."""

from __future__ import annotations

import difflib
import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from agent.errors import PlaybookError

if TYPE_CHECKING:  # pydantic and the registry load only when a playbook command runs
    from agent.playbook.load import Playbook
    from agent.playbook.summary import PlaybookSummary

playbooks_app = typer.Typer(
    help="List, show and validate the playbooks (one YAML file per cause).", no_args_is_help=True
)


class Output(enum.StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json")]


def _fail(lines: list[str]) -> NoReturn:
    """Bad input: the problem lines on stderr, exit code 2."""
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(2)


def _load(paths: list[Path] | None = None) -> list[Playbook]:
    from agent.playbook.load import load_playbooks

    try:
        return load_playbooks(paths)
    except PlaybookError as exc:
        _fail(exc.lines())


def row(s: PlaybookSummary) -> dict[str, Any]:
    """The playbook in one row: what `list -o json` prints per playbook."""
    return {"id": s.id, "title": s.title, "area": s.area, "applies_to": list(s.applies_to),
            "detector": s.detector, "fixer": s.fixer, "risk": s.risk}


def _symptom(symptom: Any) -> dict[str, Any]:
    data: dict[str, Any] = {symptom.kind: symptom.value, "weight": symptom.weight}
    if symptom.services:
        data["services"] = list(symptom.services)
    return data


def details(pb: Playbook) -> dict[str, Any]:
    """Everything about a playbook, including what its detector and fixer declare they need."""
    data = row(pb.summary())
    data["symptoms"] = [_symptom(s) for s in pb.symptoms]
    data["detect"] = _use(pb.detector_cls, pb.detector_params)
    data["fix"] = None
    if pb.fixer_cls is not None and pb.fixer_params is not None:
        data["fix"] = _use(pb.fixer_cls, pb.fixer_params) | {"risk": data["risk"]}
    data |= {"advice": pb.advice, "references": list(pb.references), "source": str(pb.source)}
    data["relations"] = [{"kind": r.kind, "cause": r.cause, "why": r.why} for r in pb.relations.items]
    return data


def _use(cls: Any, params: Any) -> dict[str, Any]:
    return {
        "use": cls.name,
        "with": params.model_dump(mode="json", by_alias=True),
        "permissions": list(cls.permissions),
        "roles": list(cls.roles),
    }


@playbooks_app.command("list")
def list_playbooks(output: OutputOpt = Output.table) -> None:
    """Every playbook: id, area, connector kinds, fix or advice-only, risk (`validate` checks in full)."""
    try:
        summaries = _summaries()
    except PlaybookError as exc:
        _fail(exc.lines())
    if output is Output.json:
        typer.echo(json.dumps([row(s) for s in summaries], indent=2))
        return
    rows: list[tuple[str, ...]] = [("id", "area", "applies to", "fix", "risk")]
    rows += [(s.id, s.area, ", ".join(s.applies_to), s.fixer or "advice only", s.risk or "-")
             for s in summaries]
    typer.echo("\n".join(_columns(rows)))


# The code a summary is derived by: a change to any of it is a change to the cached listing.
_SUMMARY_CODE = ("playbook/load.py", "playbook/schema.py", "playbook/relations.py", "playbook/summary.py",
                 "kinds.py", "yamlsrc.py")


def _summaries() -> list[PlaybookSummary]:
    """The configured playbooks' summaries, from the per-user cache when no playbook file (and none of the
    code that reads them) changed since they last read cleanly; else read, checked and cached."""
    from agent.explain.cache import cached_read
    from agent.playbook.paths import default_paths, shipped_paths
    configured = default_paths()
    files = _yaml_files(configured)
    if files is None:  # a folder or file that is not there: the full read names it
        return _read(configured)
    agent_dir = Path(__file__).resolve().parents[1]
    salt = "\0".join([*(str(p) for p in configured), *(str(p) for p in _yaml_files(shipped_paths()) or []),
                      *((agent_dir / code).read_text(encoding="utf-8") for code in _SUMMARY_CODE)])

    def parse_all(paths: Any) -> tuple[dict[Path, Any], bool]:
        rows: dict[Path, Any] = {path: [] for path in paths}
        for summary in _read(configured):
            rows[Path(summary.source)].append(vars(summary) | {"applies_to": list(summary.applies_to)})
        return rows, True

    data = cached_read(files, parse_all, name="playbooks", salt=salt)
    try:
        summaries = [_summary_of(r) for rows in data.values() for r in rows]
    except (TypeError, ValueError, KeyError):  # a cache of another shape: the files stay the truth
        return _read(configured)
    return sorted(summaries, key=lambda s: (s.area, s.id))


def _summary_of(row: dict[str, Any]) -> PlaybookSummary:
    """A cached row back as a summary; anything but the fields and types a summary has is refused."""
    from agent.playbook.summary import PlaybookSummary

    texts = ("id", "title", "area", "detector", "source")
    if set(row) != {*texts, "applies_to", "fixer", "risk"} or not all(isinstance(row[k], str) for k in texts):
        raise ValueError("not a playbook summary")
    if not all(isinstance(row[k], str | None) for k in ("fixer", "risk")):
        raise ValueError("not a playbook summary")
    if not isinstance(row["applies_to"], list) or not all(isinstance(k, str) for k in row["applies_to"]):
        raise ValueError("not a playbook summary")
    return PlaybookSummary(**(row | {"applies_to": tuple(row["applies_to"])}))


def _read(paths: list[Path]) -> list[PlaybookSummary]:
    from agent.playbook.load import read_summaries

    return read_summaries(paths)


def _yaml_files(paths: list[Path]) -> list[Path] | None:
    """The playbook files under `paths` as the loader finds them; None when a path is missing or empty."""
    from agent.playbook.paths import yaml_files

    found: list[Path] = []
    for path in paths:
        inside = yaml_files(path) if path.is_dir() else [path] if path.is_file() else []
        if not inside:
            return None
        found += inside
    return found


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Plain aligned columns: a listing needs no table library (and `list` stays quick to start)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


@playbooks_app.command("show")
def show_playbook(
    playbook_id: Annotated[str, typer.Argument(metavar="ID", help="playbook id, e.g. account-unlicensed")],
    output: OutputOpt = Output.table,
) -> None:
    """One playbook in full: symptoms, detector and fixer with their permissions, advice."""
    playbooks = {pb.id: pb for pb in _load()}
    pb = playbooks.get(playbook_id)
    if pb is None:
        close = difflib.get_close_matches(playbook_id, list(playbooks), n=3, cutoff=0.75)
        hint = f"did you mean: {', '.join(close)}" if close else f"valid: {', '.join(sorted(playbooks))}"
        _fail([f"unknown playbook '{playbook_id}'; {hint}"])
    data = details(pb)
    if output is Output.json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo("\n".join(_render(data)))


def _render(data: dict[str, Any]) -> list[str]:
    out = [f"{data['id']}: {data['title']}", f"  area:       {data['area']}"]
    out.append(f"  applies to: {', '.join(data['applies_to'])}")
    out.append(f"  source:     {data['source']}")
    out.append("  symptoms:")
    for symptom in data["symptoms"]:
        kind, value = next((k, v) for k, v in symptom.items() if k not in ("weight", "services"))
        where = f", only for {', '.join(symptom['services'])}" if symptom.get("services") else ""
        out.append(f"    - {kind}: {value}  (weight {symptom['weight']:g}{where})")
    for section in ("detect", "fix"):
        use, label = data[section], f"{section}:".ljust(12)
        if use is None:
            out.append(f"  {label}none (advice only)")
            continue
        risk = f"  risk: {use['risk']}" if "risk" in use else ""
        out.append(f"  {label}{use['use']}{risk}")
        out.append(f"    with:        {json.dumps(use['with'])}")
        out.append(f"    permissions: {', '.join(use['permissions']) or '-'}")
        if use["roles"]:
            out.append(f"    roles:       {', '.join(use['roles'])}")
    if data["relations"]:
        out.append("  relations:")
        out += [f"    - {r['kind']} {r['cause']}: {r['why']}" for r in data["relations"]]
    out.append("  advice:")
    out += [f"    {line}" for line in data["advice"].rstrip().splitlines()]
    if data["references"]:
        out.append("  references:")
        out += [f"    - {ref}" for ref in data["references"]]
    return out


@playbooks_app.command("validate")
def validate_playbooks(
    path: Annotated[
        Path | None, typer.Argument(help="a playbook file or folder (default: the configured playbooks)")
    ] = None,
) -> None:
    """Check playbooks; print `OK: N playbooks`, or every problem as file:line: message (exit 2)."""
    playbooks = _load([path] if path is not None else None)
    typer.echo(f"OK: {len(playbooks)} playbooks")
