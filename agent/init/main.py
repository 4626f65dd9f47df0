"""The whole `agent init` run: read phases, then (unless a dry run) the journaled changes, the wait for
the grants, the config, and the read-only checks. Returns the exit code; every failure is one line."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from agent.clients.errors import ClientError
from agent.errors import BadInput
from agent.init import run as phases
from agent.init.app import AppState
from agent.init.config_out import check_writable, config_data, write_config
from agent.init.propagation import wait_for_roles
from agent.init.signin import SignInRefused
from agent.init.steps import Writer, progress
from agent.playbook.permissions import GRAPH, SHAREPOINT


def _targets(opts: phases.InitOptions, found: phases.Found) -> dict[str, dict[str, str]]:
    """What undo needs to reach the tenant again: kept with the run."""
    h = found.hosts
    where = {"tenant_id": found.tenant_id, "authority_host": h.authority_host, "graph_url": h.graph_url,
             "cloud": h.cloud, "sign_in": opts.sign_in}
    if opts.ca_bundle is not None:
        where["ca_bundle"] = str(opts.ca_bundle.resolve())
    if opts.client_id:
        where["client_id"] = opts.client_id
    return {"agent-init": where}


def print_plan(found: phases.Found, opts: phases.InitOptions) -> None:
    print(f"tenant: {found.tenant_id} ({found.hosts.cloud}); signed in as {found.session.user}")
    print(f"tier {opts.tier}: {len(found.grants.wanted)} application permission(s): "
          + ", ".join(w.label for w in found.grants.wanted))
    for name in found.grants.unknown:
        print(f"not offered by this tenant, skipped: {name}")
    for name, condition in found.grants.conditional.items():
        print(f"not granted: {name} (only needed when {condition})")
    for cand in found.candidates:
        print(f"connector found: {cand.line()}")


async def run_init(opts: phases.InitOptions, playbooks: Any, journal: Any) -> int:
    if not opts.dry_run and not opts.update:
        check_writable(opts.out, opts.force)
    try:
        found, graph = await phases.read_phase(opts, playbooks)
    except SignInRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return phases.EXIT_ERROR
    try:
        return await _changes(opts, playbooks, journal, found, graph)
    finally:
        await graph.adapter.aclose()


async def _changes(opts: phases.InitOptions, playbooks: Any, journal: Any, found: phases.Found,
                   graph: Any) -> int:
    print_plan(found, opts)
    existing = await phases.target_app(opts, graph)  # BadInput here: before any run or change
    if opts.dry_run:
        writer = Writer(None, None, True)
        await phases.change_phase(opts, graph, found, writer, "<run id>", existing)
        print(f"dry run: {len(writer.planned)} write(s) planned, nothing changed")
        return phases.EXIT_PENDING if writer.planned else phases.EXIT_OK
    run_id = journal.start_run("init", config=str(opts.out.resolve()), argv=opts.argv,
                               targets=_targets(opts, found))
    print(f"run {run_id}")
    code = phases.EXIT_ERROR
    try:
        code = await _apply(opts, journal, run_id, found, graph, existing)
        return code
    finally:
        journal.finish_run(run_id, code)


async def _apply(opts: phases.InitOptions, journal: Any, run_id: str, found: phases.Found, graph: Any,
                 existing: Any) -> int:
    writer = Writer(journal, run_id, False)
    try:
        state = await phases.change_phase(opts, graph, found, writer, run_id, existing)
    except ClientError as exc:
        print(f"error: {exc.reason}; what was made is journaled: `agent undo {run_id}` removes it",
              file=sys.stderr)
        return phases.EXIT_ERROR
    _report(state)
    if state.refused:
        for line in phases.refused_lines(state, found):
            print(line, file=sys.stderr)
    elif state.granted or state.created:
        missing = _wait(opts, found, state)
        if missing:
            lacking = ", ".join(sorted(missing))
            print(f"error: after {opts.wait_s:.0f} s the app's tokens still lack {lacking}; run "
                  "`agent init --update` later to check again", file=sys.stderr)
            return phases.EXIT_ERROR
    if not opts.update or not opts.out.exists():
        _write(opts, writer, run_id, found, state)
    return phases.EXIT_REFUSED if state.refused else phases.EXIT_OK


def _report(state: AppState) -> None:
    print(f"app: {state.app_id} (object {state.object_id}, service principal {state.sp_id})"
          f"{' created' if state.created else ''}")
    if state.granted:
        print("granted: " + ", ".join(state.granted))
    if state.held:
        print("already held: " + ", ".join(state.held))
    if state.extra:
        print("held beyond what the tier needs (not removed): " + ", ".join(state.extra))


def _wait(opts: phases.InitOptions, found: phases.Found, state: AppState) -> set[str]:
    from agent.clients.tokens import certificate_credential, graph_scope

    key_path, _ = phases._key_ref(opts)
    if not key_path.is_file():
        return set()  # --update/--adopt of an app whose key is elsewhere: nothing of ours to sign in with
    tenant = phases.config_tenant(opts, found.tenant_id, found.hosts, state.app_id)
    pem = key_path.read_text(encoding="utf-8")
    wanted: dict[str, set[str]] = {
        graph_scope(tenant): {w.name for w in found.grants.wanted if w.resource == GRAPH}}
    if found.hosts.sharepoint_root:
        wanted[f"{found.hosts.sharepoint_root}/.default"] = {w.name for w in found.grants.wanted
                                                              if w.resource == SHAREPOINT}
    progress("checking the app's own tokens for the grants (fresh credential each try)")
    missing = wait_for_roles(lambda: certificate_credential(tenant, state.app_id, pem), wanted, opts.wait_s)
    return {role for roles in missing.values() for role in roles}


def _write(opts: phases.InitOptions, writer: Writer, run_id: str, found: phases.Found,
           state: AppState) -> None:
    key_path, key_ref = phases._key_ref(opts)
    names: set[str] = set()
    entries = []
    for cand in found.candidates:
        entry = cand.connector()
        while entry["name"] in names:
            entry["name"] = f"{entry['name']}-2"
        names.add(entry["name"])
        entries.append(entry)
    name = opts.tenant_name or (opts.tenant.split(".")[0] if "." in opts.tenant else "tenant")
    data = config_data(found_connectors_name(name), found.tenant_id, found.hosts, opts.ca_bundle,
                       state.app_id, key_ref, entries)
    digest = write_config(opts.out, data, run_id, key_path)
    writer.note_file(str(opts.out.resolve()), digest, "the config init wrote")
    print(f"wrote {opts.out} ({len(entries)} connector(s))")


def found_connectors_name(name: str) -> str:
    from agent.init.connectors import slug

    return slug(name)


def run_checks(out: str) -> None:
    """`agent permissions` and a read-only `agent diagnose` on the new config, as separate processes."""
    for argv in (["permissions"], ["diagnose"]):
        progress(f"running agent {' '.join(argv)}")
        done = subprocess.run([sys.executable, "-m", "agent", *argv, "--config", out], check=False)
        print(f"agent {argv[0]} exited {done.returncode}")


__all__ = ["BadInput", "run_checks", "run_init"]
