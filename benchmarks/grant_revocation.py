"""Revoking expired OneDrive grants: a naive admin loop vs `agent grants revoke --expired`.

Both start from the same simulated tenant where `agent fix --grant-for 1d` made the migration account
site collection admin of every OneDrive (N users, 20 ms of latency per request), with the clock moved
past the expiry ($AGENT_NOW):

* naive: what an admin script does with office365-rest-python-client, one OneDrive after the other (a
  ClientContext per OneDrive, the account's site user by login, IsSiteAdmin false, update); timed on a
  sample of OneDrives and scaled to N, since at fleet size it runs for many minutes;
* agent: `agent grants revoke --expired`: a fresh read of every OneDrive (is the grant still ours to
  take back?), Tenant.SetSiteAdmin false through CSOM ProcessQuery in batches, the journal, and a read
  back of every OneDrive to verify.

Run: python benchmarks/grant_revocation.py [--users N] [--latency-ms MS] [--sample N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from onedrive_fleet import ACCOUNT, CAUSE, CONNECTOR, Run, Tenant, admin_token_source, table, tenant

LATER = "2030-01-01T00:00:00Z"  # past the one-day lifetime


Done = tuple[subprocess.CompletedProcess[str], float, int]


def agent(sim: Tenant, state: str, *args: str, now: str | None = None) -> Done:
    """`agent ARGS -o json` in its own process; its answer, seconds and the requests it made."""
    argv = [sys.executable, "-m", "agent", *args, "-o", "json", "--config", str(sim.config),
            "--state-dir", state]
    env = {**os.environ, "AGENT_DEBUG": "0", **({"AGENT_NOW": now} if now else {})}
    seq, started = sim.seq(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    return done, time.perf_counter() - started, sim.requests_since(seq)


def grant_all(sim: Tenant, state: str) -> None:
    done, seconds, _ = agent(sim, state, "fix", "--only", CAUSE, "--connector", CONNECTOR, "--yes",
                             "--grant-for", "1d")
    if done.returncode != 0:
        raise SystemExit(f"granting failed (exit {done.returncode}): {done.stderr.strip()[-200:]}")
    print(f"granted with a one-day lifetime in {seconds:.1f} s")


def naive(sim: Tenant, sample: int, users: int) -> Run:
    """The admin script on `sample` OneDrives, scaled to `users`."""
    from office365.sharepoint.client_context import ClientContext

    token = admin_token_source(sim)
    seq, started = sim.seq(), time.perf_counter()
    for i in range(1, sample + 1):
        site = f"{sim.base_url}/personal/user{i:04d}_contoso_onmicrosoft_com"
        ctx = ClientContext(site).with_access_token(token).with_transport(verify=sim.ca)
        user = ctx.web.site_users.get_by_login_name(f"i:0#.f|membership|{ACCOUNT}").execute_query()
        user.set_property("IsSiteAdmin", False).update().execute_query()
    seconds, requests = time.perf_counter() - started, sim.requests_since(seq)
    scale = users / sample
    return Run(f"naive loop (sequential; {sample} timed, x{scale:g})", seconds * scale, int(requests * scale))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="OneDrive users (default 10000)")
    parser.add_argument("--latency-ms", type=int, default=20, help="latency per request (default 20)")
    parser.add_argument("--sample", type=int, default=200, help="OneDrives the naive loop is timed on")
    args = parser.parse_args(argv)
    latency = {"latency_ms": args.latency_ms}
    with tenant(args.users) as sim, tempfile.TemporaryDirectory(prefix="revoke-bench-") as state:
        sim.reset(args.users, latency)
        grant_all(sim, state)
        done, seconds, requests = agent(sim, state, "grants", "revoke", "--expired", now=LATER)
        try:
            row = json.loads(done.stdout)["results"][0]
            note = f"exit {done.returncode}, {row['status']}: {row['summary']}"
        except (ValueError, IndexError, KeyError):
            note = f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
        fast = Run("agent grants revoke --expired", seconds, requests, note)
        left = args.users - sim.missing_grants()
        sim.reset(args.users, latency)
        grant_all(sim, tempfile.mkdtemp(prefix="revoke-bench-naive-"))
        slow = naive(sim, min(args.sample, args.users), args.users)
        print(f"\n{args.users} OneDrives, {args.latency_ms} ms latency per request\n")
        print(table([slow, fast], slow, args.latency_ms))
        print(f"\nOneDrives still granted after the agent's revocation: {left}")
    return 0 if left == 0 and done.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
