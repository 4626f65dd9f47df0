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


def summary(pb: Playbook) -> dict[str, Any]:
    """The playbook in one row: what `list -o json` prints per playbook."""
    return {
        "id": pb.id,
        "title": pb.title,
        "area": pb.area,
        "applies_to": list(pb.applies_to),
        "detector": pb.detector_name,
        "fixer": pb.fixer_name,
        "risk": pb.risk.value if pb.risk is not None else None,
    }


def details(pb: Playbook) -> dict[str, Any]:
    """Everything about a playbook, including what its detector and fixer declare they need."""
    data = summary(pb)
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
    """Every playbook: id, area, connector kinds, fix or advice-only, risk."""
    playbooks = _load()
    if output is Output.json:
        typer.echo(json.dumps([summary(pb) for pb in playbooks], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "area", "applies to", "fix", "risk")
    for pb in playbooks:
        risk = pb.risk.value if pb.risk is not None else "-"
        table.add_row(pb.id, pb.area, ", ".join(pb.applies_to), pb.fixer_name or "advice only", risk)
    Console().print(table)


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
