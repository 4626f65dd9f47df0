"""`agent sim serve`: the simulated tenant in the foreground; `embedded_sim` starts it for `--sim`."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:  # the simulator (uvicorn, starlette) loads inside the commands only
    from agent.simulator.scenarios.load import Scenario
    from agent.simulator.server import Simulator

ALL: tuple[str, ...] = ("all",)  # every cause of DESIGN section 2


class SimCloud(enum.StrEnum):
    """The clouds a simulated tenant can live in (agent.config.clouds names them alike)."""

    public = "public"
    gcc = "gcc"
    gcchigh = "gcchigh"
    dod = "dod"
    china = "china"
EMBEDDED_USERS = 50

sim_app = typer.Typer(help="The built-in simulated Microsoft 365 tenant (local HTTPS).", no_args_is_help=True,
                      add_completion=False)


@sim_app.callback()
def _group() -> None:
    """The built-in simulated Microsoft 365 tenant (local HTTPS)."""


def _bad(message: str) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(2)


def _scenario(scenario: Path | None, breaks: Sequence[str], users: int | None,
              cloud: str | None = None) -> Scenario:
    """The scenario file (if any) plus the --break, --users and --cloud options; bad input exits 2."""
    from agent.simulator.scenarios.load import Scenario, expand_breaks, load_scenario

    try:
        chosen = load_scenario(scenario) if scenario is not None else Scenario()
        extra = expand_breaks(breaks, "--break")
    except ValueError as exc:
        _bad(str(exc))
    merged = tuple(dict.fromkeys((*chosen.breaks, *extra)))
    return dataclasses.replace(chosen, breaks=merged, users=chosen.users if users is None else users,
                               cloud=chosen.cloud if cloud is None else cloud)


@sim_app.command("serve")
def serve(
    scenario: Annotated[Path | None, typer.Option("--scenario", help="Scenario YAML (tenant, users, break, "
                                                  "wire).")] = None,
    breaks: Annotated[list[str] | None, typer.Option("--break", help="Cause id to break (repeatable; "
                                                     "`all` for every cause).")] = None,
    users: Annotated[int | None, typer.Option("--users", min=0, max=100_000, help="OneDrive users.")] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")] = 0,
    write_config: Annotated[Path | None, typer.Option("--write-config", help="Write a connector config "
                                                      "pointing at the tenant once it listens.")] = None,
    cloud: Annotated[SimCloud | None, typer.Option("--cloud", help="The cloud whose token audiences the "
                                                   "tenant issues and checks (default: public).")] = None,
) -> None:
    """Run the simulated tenant in the foreground until Ctrl-C."""
    from agent.simulator.server import Simulator

    chosen = _scenario(scenario, breaks or [], users, cloud.value if cloud is not None else None)
    sim = Simulator(scenario=chosen, port=port)
    try:
        sim.start()
    except OSError as exc:
        typer.echo(f"error: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    try:
        _announce(sim, write_config)
        _wait_for_stop()
    finally:
        sim.stop()
    typer.echo("stopped")


def _announce(sim: Simulator, write_config: Path | None) -> None:
    typer.echo(f"simulated tenant: {sim.base_url}")
    typer.echo(f"CA certificate:   {sim.ca_path}")
    breaks = ", ".join(sim.scenario.breaks) or "none (healthy)"
    typer.echo(f"broken causes:    {breaks}")
    if write_config is not None:
        typer.echo(f"connector config: {sim.write_config(write_config)}")
    typer.echo("Press Ctrl-C to stop.", err=True)


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (a service manager's stop)."""
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def embedded_sim(breaks: Sequence[str] = ALL, users: int = EMBEDDED_USERS) -> Iterator[Path]:
    """Start the simulated tenant in-process with `breaks` broken; yields its connector config path."""
    from agent.simulator.server import Simulator

    with tempfile.TemporaryDirectory(prefix="agent-sim-") as folder, \
            Simulator(users=users, breaks=breaks) as sim:
        yield sim.write_config(Path(folder) / "agent.yaml")
