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
    from agent.playbook.load import Playbook, PlaybookSummary

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


def details(pb: Playbook) -> dict[str, Any]:
    """Everything about a playbook, including what its detector and fixer declare they need."""
    from agent.playbook.load import PlaybookSummary

    data = row(PlaybookSummary.of(pb))
    data["symptoms"] = [{s.kind: s.value, "weight": s.weight} for s in pb.symptoms]
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
    from agent.playbook.load import read_summaries

    try:
        summaries = read_summaries()
    except PlaybookError as exc:
        _fail(exc.lines())
    if output is Output.json:
        typer.echo(json.dumps([row(s) for s in summaries], indent=2))
        return
    rows: list[tuple[str, ...]] = [("id", "area", "applies to", "fix", "risk")]
    rows += [(s.id, s.area, ", ".join(s.applies_to), s.fixer or "advice only", s.risk or "-")
             for s in summaries]
    typer.echo("\n".join(_columns(rows)))


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
        kind, value = next((k, v) for k, v in symptom.items() if k != "weight")
        out.append(f"    - {kind}: {value}  (weight {symptom['weight']:g})")
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
