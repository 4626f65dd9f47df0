"""`agent init` and `agent connectors discover|add`: thin commands over agent.init."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from agent.cli.options import PlaybooksOpt, StateDirOpt


class SignIn(enum.StrEnum):
    device_code = "device-code"
    browser = "browser"
    azure_cli = "azure-cli"


class CloudChoice(enum.StrEnum):
    auto = "auto"
    public = "public"
    gcc = "gcc"
    gcchigh = "gcchigh"
    dod = "dod"
    china = "china"


class InitTier(enum.StrEnum):
    read = "read"
    fix = "fix"
    fix_high = "fix-high"


TenantOpt = Annotated[str, typer.Option("--tenant", help="The tenant's domain (contoso.onmicrosoft.com) "
                                                         "or id.")]
AuthorityOpt = Annotated[str | None, typer.Option(
    "--authority-host", help="The sign-in host to ask (default: the public cloud's, which knows every "
    "tenant); for a proxy or a private endpoint.")]
CaOpt = Annotated[Path | None, typer.Option("--ca-bundle", help="Extra CAs to trust (a TLS-inspecting "
                                            "proxy's), added to the default trust.", exists=True,
                                            dir_okay=False)]
BrowserOpt = Annotated[bool, typer.Option("--browser", help="Sign in in a browser "
                                          "(InteractiveBrowserCredential) instead of with a device code.")]
CliOpt = Annotated[bool, typer.Option("--azure-cli", help="Use the signed-in Azure CLI (`az login`).")]
ClientIdOpt = Annotated[str | None, typer.Option(
    "--client-id", help="A public client app to sign in through, for tenants that block the Azure CLI app.")]


def _sign_in(browser: bool, azure_cli: bool) -> str:
    from agent.errors import BadInput

    if browser and azure_cli:
        raise BadInput("choose one of --browser and --azure-cli")
    chosen = SignIn.browser if browser else SignIn.azure_cli if azure_cli else SignIn.device_code
    return chosen.value


def init(tenant: TenantOpt,
         tier: Annotated[InitTier, typer.Option("--tier", help="read (diagnose only), fix (fixes up to "
                                                "medium risk), fix-high (every fix).")] = InitTier.read,
         cloud: Annotated[CloudChoice, typer.Option("--cloud", help="Default: found from the tenant's OpenID "
                                                    "configuration.")] = CloudChoice.auto,
         out: Annotated[Path, typer.Option("--out", help="The config to write.")] = Path("agent.yaml"),
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Print every call, change nothing.")]
         = False,
         force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config and key file.")]
         = False,
         update: Annotated[bool, typer.Option("--update", help="Re-sync the existing app's grants with the "
                                              "playbooks.")] = False,
         adopt: Annotated[str | None, typer.Option("--adopt", help="Use this existing app (appId).")]
         = None,
         name: Annotated[str, typer.Option("--name", help="The app registration's unique name.")]
         = "m365-401-agent",
         browser: BrowserOpt = False, azure_cli: CliOpt = False, client_id: ClientIdOpt = None,
         authority_host: AuthorityOpt = None,
         graph_url: Annotated[str | None, typer.Option("--graph-url", help="Graph root, when not the "
                                                       "cloud's.")] = None,
         ews_url: Annotated[str | None, typer.Option("--ews-url", help="EWS URL, when not the cloud's.")]
         = None,
         ca_bundle: CaOpt = None,
         cert_days: Annotated[int, typer.Option("--cert-days", min=1, max=730, help="The certificate's "
                                                "lifetime.")] = 180,
         connectors: Annotated[bool, typer.Option("--connectors/--no-connectors", help="Offer the apps that "
                                                  "look like migration connectors in the config.")] = True,
         checks: Annotated[bool, typer.Option("--checks/--no-checks", help="Run `agent permissions` and a "
                                              "read-only `agent diagnose` at the end.")] = True,
         wait: Annotated[float, typer.Option("--wait", min=0, help="Seconds to wait for the grants to reach "
                                             "the app's tokens.")] = 600.0,
         state_dir: StateDirOpt = None, playbooks: PlaybooksOpt = None) -> NoReturn:
    """Set the agent up in a real tenant: its app, certificate, grants and agent.yaml, journaled."""
    from agent import threads
    from agent.cli.boundary import State
    from agent.cli.lock import locked
    from agent.init.main import run_checks, run_init
    from agent.init.run import InitOptions
    from agent.journal.statedir import state_dir as make_state_dir
    from agent.journal.store import Journal
    from agent.playbook.load import load_playbooks

    opts = InitOptions(tenant=tenant, out=out, cloud=cloud.value, authority_host=authority_host,
                       graph_url=graph_url, ews_url=ews_url, ca_bundle=ca_bundle,
                       sign_in=_sign_in(browser, azure_cli), client_id=client_id, tier=tier.value, name=name,
                       cert_days=cert_days, dry_run=dry_run, force=force, update=update, adopt=adopt,
                       discover_connectors=connectors, wait_s=wait, argv=list(State.argv))
    books = load_playbooks(playbooks or None)
    folder = make_state_dir(state_dir)
    with locked(folder, "init"), Journal.in_dir(folder) as journal:
        code = threads.run(run_init(opts, books, journal))
    if code == 0 and checks and not dry_run and out.is_file():
        run_checks(str(out))
    raise typer.Exit(code)


connectors_app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                             help="Migration connectors: find them in the tenant, add one to the config.")


@connectors_app.command("discover")
def discover(tenant: TenantOpt, browser: BrowserOpt = False, azure_cli: CliOpt = False,
             client_id: ClientIdOpt = None, authority_host: AuthorityOpt = None,
             graph_url: Annotated[str | None, typer.Option("--graph-url")] = None,
             ca_bundle: CaOpt = None) -> NoReturn:
    """List the apps holding or asking for connector-grade roles (reads only, as the signed-in admin)."""
    from agent import threads
    from agent.cli.connectors import discover_lines

    lines = threads.run(discover_lines(tenant, _sign_in(browser, azure_cli), client_id, authority_host,
                                       graph_url, ca_bundle))
    for line in lines:
        typer.echo(line)
    raise typer.Exit(0)


@connectors_app.command("add")
def add(client_id: Annotated[str, typer.Option("--from-sp", help="The connector app's appId.")],
        kind: Annotated[str, typer.Option("--kind", help="exchange-online | onedrive | sharepoint")],
        name: Annotated[str | None, typer.Option("--name", help="The connector's name.")] = None,
        config: Annotated[Path, typer.Option("--config", help="The config to add it to.")]
        = Path("agent.yaml"),
        secret: Annotated[bool, typer.Option("--secret", help="Ask for the app's client secret.")] = False,
        pfx: Annotated[Path | None, typer.Option("--pfx", help="The app's certificate as a PFX file (its "
                                                 "password is asked for).", exists=True, dir_okay=False)]
        = None,
        account: Annotated[str | None, typer.Option("--account", help="The migration account's UPN (its "
                                                    "password is asked for).")] = None,
        vendor: Annotated[bool, typer.Option("--vendor", help="The vendor holds the app's credential.")]
        = False) -> NoReturn:
    """Append a connector to the config, asking (getpass) only for the secrets its probes need."""
    from agent.cli.connectors import add_connector

    typer.echo(add_connector(config, client_id, kind, name, secret=secret, pfx=pfx, account=account,
                             vendor=vendor))
    raise typer.Exit(0)


def undo_if_init(run_id: str, dry_run: bool, folder: Path, config: Path | None = None) -> None:
    """When `run_id` is an `agent init` run (or an own-certificate renewal), undo it here and exit."""
    from agent.journal.statedir import JOURNAL_NAME
    from agent.journal.store import Journal, UnknownRun

    if not (folder / JOURNAL_NAME).is_file():
        return
    with Journal.in_dir(folder) as journal:
        try:
            record = journal.run(run_id)
        except UnknownRun:
            return
        if record.mode not in ("init", "own-certificate"):
            return
        from agent import threads
        from agent.cli.lock import locked

        if record.mode == "init":
            from agent.cli.init_undo import undo_init_run

            work = undo_init_run(journal, record, dry_run)
        else:
            from agent.cli.session import config_path
            from agent.config.load import load_config
            from agent.trust.own_certificate_undo import undo_rotation

            cfg = load_config(config_path(config))
            work = undo_rotation(journal, record, cfg, dry_run)
        if dry_run:
            raise typer.Exit(threads.run(work))
        with locked(folder, "undo"):
            raise typer.Exit(threads.run(work))
