"""Many tenants, many agents, one PostgreSQL journal: 8 agents in parallel vs one agent in sequence.

N simulated tenants (one simulator process each, its own tenant id), each with 2 to 4 broken causes
the default heal policy fixes (medium risk), healed by `agent heal --tenant T --journal postgresql://...`
processes, as one Kubernetes job per tenant would run them:

* parallel: 8 agent processes at a time sharing one PostgreSQL. The first tenants are started twice at
  once (a rival job), so the per-tenant advisory lock is contended; one agent is SIGKILLed after its
  first write to its tenant, and the next run of that tenant must take the lock over and heal it;
* sequential: one agent healing every tenant, one after the other.

Checked from the simulators' request logs and the journal: every tenant healed (its last run exits 0
with each broken cause fixed or ok), every write to a tenant falls inside a run that held its lock, no
two runs that held one tenant's lock overlap, and the killed run's journaled changes are still there
(the next run of its tenant marked it interrupted).

Run: python benchmarks/many_tenants.py [--tenants 50] [--agents 8] [--users 3] [--pg-url URL]
(without --pg-url or $AGENT_TEST_PG_URL a throwaway PostgreSQL cluster is started with initdb)
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

# causes the default policy (low and medium risk) heals without approval
MEDIUM = ("account-unlicensed", "app-credentials-invalid", "app-certificate-missing", "no-onedrive-access",
          "not-site-collection-admin", "target-site-missing", "no-full-control")
AGENT = [sys.executable, "-m", "agent"]
REFUSED = "holds the lock"


@dataclass
class Tenant:
    name: str
    tenant_id: str
    breaks: list[str]
    proc: subprocess.Popen[str] | None = None
    base_url: str = ""
    ca_path: str = ""

    def log(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.base_url}/_sim/log", verify=self.ca_path, timeout=30)
        entries: list[dict[str, Any]] = answer.json()["entries"]
        return entries


@dataclass
class Run:
    """One agent process: which tenant, when, how it ended."""

    tenant: str
    start: float
    end: float = 0.0
    code: int | None = None
    report: dict[str, Any] | None = None
    stderr: str = ""
    killed: bool = False

    @property
    def refused(self) -> bool:
        return self.code == 1 and REFUSED in self.stderr


@dataclass
class Phase:
    name: str
    agents: int
    wall_s: float = 0.0
    runs: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- PostgreSQL -------------------------------------------------------------------------------------
def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    return None


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """The given server, else a throwaway cluster on a Unix socket (as `nobody` when run as root)."""
    if url:
        yield url
        return
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        sys.exit("no PostgreSQL: give --pg-url, or install it (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="agent-bench-pg-"))
    folder.chmod(0o755)
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
        run_as = ["runuser", "-u", "nobody", "--"]
    data = folder / "data"
    subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "agent"], check=True,
                   capture_output=True)
    options = f"-k {folder} -c listen_addresses='' -c max_connections=300 -c fsync=off"
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"), "-o", options,
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://agent@/postgres?host={folder}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    import psycopg

    schema = "bench_" + secrets.token_hex(4)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


# -- simulated tenants -----------------------------------------------------------------------------
def serve_one(tenant_id: str, users: int, config: Path, breaks: list[str]) -> None:
    """Child mode: one simulated tenant with its own tenant id, until stdin closes."""
    from agent.simulator.server import Simulator

    sim = Simulator(users=users, breaks=breaks).start()
    sim.state.tenant_id = tenant_id  # every simulated tenant starts as contoso's id; real ones differ
    sim.write_config(config)
    print(json.dumps({"base_url": sim.base_url, "ca_path": str(sim.ca_path)}), flush=True)
    sys.stdin.read()
    sim.stop()


def start_tenants(count: int, users: int, work: Path, rng: random.Random) -> list[Tenant]:
    tenants = [Tenant(f"t{i:02d}", str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                      rng.sample(MEDIUM, rng.randint(2, 4))) for i in range(count)]
    for t in tenants:
        folder = work / "sims" / t.name
        folder.mkdir(parents=True)
        args = [sys.executable, __file__, "--serve-one", t.tenant_id, "--users", str(users),
                "--config", str(folder / "agent.yaml"), *(f"--break={b}" for b in t.breaks)]
        t.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for t in tenants:
        assert t.proc is not None and t.proc.stdout is not None
        ready = json.loads(t.proc.stdout.readline())
        t.base_url, t.ca_path = ready["base_url"], ready["ca_path"]
    return tenants


def stop_tenants(tenants: list[Tenant]) -> None:
    for t in tenants:
        if t.proc is not None and t.proc.poll() is None:
            assert t.proc.stdin is not None
            t.proc.stdin.close()
    for t in tenants:
        if t.proc is not None:
            t.proc.wait(30)


def write_config_dir(tenants: list[Tenant], work: Path) -> Path:
    """One file per customer: each simulator's config, renamed to its tenant, paths made absolute."""
    folder = work / "customers"
    folder.mkdir()
    for t in tenants:
        source = work / "sims" / t.name / "agent.yaml"
        data = yaml.safe_load(source.read_text())
        (tenant,) = data["tenants"]
        tenant.update(name=t.name, tenant_id=t.tenant_id)
        for conn in data["connectors"]:
            conn.update(name=f"{t.name}-{conn['name']}", tenant=t.name)
        (folder / f"{t.name}.yaml").write_text(yaml.safe_dump(absolute(data, source.parent)))
    return folder


def absolute(value: Any, base: Path, key: str = "") -> Any:
    """file:NAME references and plain file paths, relative to the simulator's folder, made absolute."""
    if isinstance(value, dict):
        return {k: absolute(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [absolute(v, base, key) for v in value]
    if isinstance(value, str) and value.startswith("file:") and not value[5:].startswith("/"):
        return f"file:{base / value[5:]}"
    if key == "certificate_public" and not value.startswith("/"):
        return str(base / value)
    return value


# -- agents ----------------------------------------------------------------------------------------
def heal(tenant: Tenant, config_dir: Path, url: str, state: Path, kill_after_write: bool = False) -> Run:
    run = Run(tenant.name, time.time())
    args = [*AGENT, "heal", "--config", str(config_dir), "--tenant", tenant.name, "--journal", url,
            "--state-dir", str(state), "-o", "json", "--deadline", "10m"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if kill_after_write:
        seen = len(tenant.log())
        while proc.poll() is None and not any(e.get("wrote") for e in tenant.log()[seen:]):
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            run.killed = True
    out, err = proc.communicate()
    run.end, run.code, run.stderr = time.time(), proc.returncode, err
    with contextlib.suppress(ValueError):
        run.report = json.loads(out) if out.strip() else None
    return run


def run_phase(phase: Phase, tenants: list[Tenant], config_dir: Path, url: str, state: Path,
              rivals: int, kill: bool) -> None:
    """Each tenant once; the first `rivals` twice at once; with `kill`, one run killed then rerun."""
    tasks: list[tuple[Tenant, bool]] = []
    for i, t in enumerate(tenants):
        tasks.append((t, kill and i == rivals))
        if i < rivals:
            tasks.append((t, False))
    lock = threading.Lock()
    reruns: list[Tenant] = []

    def work(task: tuple[Tenant, bool]) -> None:
        tenant, kill_it = task
        run = heal(tenant, config_dir, url, state, kill_it)
        with lock:
            phase.runs.append(run)
        if run.killed:  # the next run of this tenant (its CronJob's next schedule)
            with lock:
                reruns.append(tenant)
            rerun = heal(tenant, config_dir, url, state)
            with lock:
                phase.runs.append(rerun)

    started = time.monotonic()
    with ThreadPoolExecutor(phase.agents) as pool:
        list(pool.map(work, tasks))
    phase.wall_s = time.monotonic() - started


# -- checks ----------------------------------------------------------------------------------------
def check(phase: Phase, tenants: list[Tenant], url: str) -> None:
    for t in tenants:
        runs = sorted((r for r in phase.runs if r.tenant == t.name), key=lambda r: r.start)
        acted = [r for r in runs if not r.refused]
        check_healed(phase, t, [r for r in acted if not r.killed])
        for a, b in itertools.pairwise(acted):
            if b.start < a.end:
                phase.problems.append(f"{t.name}: two runs that held its lock overlap")
        writes = [e for e in t.log() if e.get("wrote")]
        outside = [e for e in writes if not any(r.start <= e["at"] <= r.end + 0.5 for r in acted)]
        if outside:
            phase.problems.append(f"{t.name}: {len(outside)} write(s) outside every run that held its lock")
    check_killed(phase, url)


def check_healed(phase: Phase, t: Tenant, finished: list[Run]) -> None:
    if not finished or finished[-1].report is None:
        phase.problems.append(f"{t.name}: no finished run ({finished[-1].stderr[-200:] if finished else ''})")
        return
    last = finished[-1]
    status = {r["cause"]: r["status"] for r in last.report["results"] if r["cause"] in t.breaks}
    bad = {c: s for c, s in status.items() if s not in ("fixed", "ok")}
    if last.code != 0 or bad or set(status) != set(t.breaks):
        phase.problems.append(f"{t.name}: not healed (exit {last.code}; {bad or 'causes missing'})")


def check_killed(phase: Phase, url: str) -> None:
    """The killed run is in the journal with the changes it had journaled, and the next run of its tenant
    took its lock over and marked it interrupted (an end time, no exit code)."""
    import psycopg

    killed = [r for r in phase.runs if r.killed]
    if not killed:
        return
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT r.id, r.finished, count(c.seq) FROM runs r LEFT JOIN changes c "
                          "ON c.run = r.id WHERE r.exit_code IS NULL GROUP BY r.id, r.finished").fetchall()
    if len(rows) != len(killed) or any(changes == 0 or finished is None for _, finished, changes in rows):
        phase.problems.append(f"killed run not kept (interrupted, with its changes) in the journal: {rows}")
    for note in ("took over the lock", "was interrupted before it finished"):
        if sum(note in r.stderr for r in phase.runs) != len(killed):
            phase.problems.append(f"the run after the killed one did not say it {note}")


def summary(phase: Phase) -> dict[str, Any]:
    return {"wall_s": round(phase.wall_s, 1), "runs": len(phase.runs),
            "refused": sum(r.refused for r in phase.runs), "killed": sum(r.killed for r in phase.runs),
            "problems": phase.problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--users", type=int, default=3, help="OneDrive users per tenant")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--pg-url", default=os.environ.get("AGENT_TEST_PG_URL"))
    parser.add_argument("--serve-one", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--break", dest="breaks", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_one:
        serve_one(args.serve_one, args.users, Path(args.config), args.breaks)
        return
    rivals = min(args.agents // 2, max(args.tenants - 1, 0))
    phases = [Phase("parallel", args.agents), Phase("sequential", 1)]
    with postgres(args.pg_url) as server, tempfile.TemporaryDirectory(prefix="agent-bench-") as tmp:
        for phase in phases:
            work = Path(tmp) / phase.name
            work.mkdir()
            tenants = start_tenants(args.tenants, args.users, work, random.Random(args.seed))
            try:
                config_dir = write_config_dir(tenants, work)
                with fresh_schema(server) as url:
                    parallel = phase.agents > 1
                    run_phase(phase, tenants, config_dir, url, work / "state", rivals if parallel else 0,
                              kill=parallel)
                    check(phase, tenants, url)
            finally:
                stop_tenants(tenants)
            print(f"{phase.name}: {json.dumps(summary(phase))}", file=sys.stderr)
    par, seq = phases
    broken = sum(len(t.breaks) for t in start_plan(args))
    load = os.getloadavg()[0]
    print(f"{args.tenants} tenants, {broken} broken causes, {args.users} OneDrive users each; "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end (agents are CPU-bound: the ratio "
          "tops out near the free cores)")
    print(f"{'':28}{'agents':>8}{'wall s':>10}{'runs':>6}{'refused':>9}{'killed':>8}{'problems':>10}")
    for phase in phases:
        s = summary(phase)
        print(f"{phase.name + ' (one PostgreSQL)':28}{phase.agents:>8}{s['wall_s']:>10}{s['runs']:>6}"
              f"{s['refused']:>9}{s['killed']:>8}{len(s['problems']):>10}")
    print(f"ratio sequential / parallel wall time: {seq.wall_s / par.wall_s:.2f}x")
    for phase in phases:
        for problem in phase.problems:
            print(f"{phase.name}: {problem}")
    sys.exit(1 if par.problems or seq.problems else 0)


def start_plan(args: argparse.Namespace) -> list[Tenant]:
    """The tenants both phases used (same seed, same breaks), for the headline."""
    rng = random.Random(args.seed)
    return [Tenant(f"t{i:02d}", str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                   rng.sample(MEDIUM, rng.randint(2, 4))) for i in range(args.tenants)]


if __name__ == "__main__":
    main()
