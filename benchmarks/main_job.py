"""CPU of the main job and of `agent playbooks list`, beside the CPU of importing the client libraries.

The main job (`agent fix --dry-run --sim`) and `agent playbooks list` each run in a fresh process with
an empty state directory, as a person runs them; so does a bare import of the four client libraries
(msgraph-sdk, azure-identity, exchangelib, office365-rest-python-client) and one Graph model. CPU time
(user + system, from the kernel's accounting of each child) is compared, not wall time: on a shared
machine the wall clock measures the neighbours as much as the agent. Each figure is the median of
`--repeat` runs, all taken in the same call, and the ratios are printed side by side. The children run
with their bytecode written, as an installed tool has it (the libraries' is, from their install):
PYTHONDONTWRITEBYTECODE is dropped from their environment, else the agent alone would compile its source
on every run.

Run: python benchmarks/main_job.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

IMPORTS = ("import msgraph.graph_service_client, azure.identity, exchangelib, "
           "office365.sharepoint.client_context; from msgraph.generated.models.user import User")


def agent_argv() -> list[str]:
    """The console script next to this interpreter (as installed), else `python -m agent`."""
    script = shutil.which("agent", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "agent"]


def cpu_s(argv: list[str]) -> float:
    """User + system CPU seconds of one run of argv (its own rusage, through wait4)."""
    with tempfile.TemporaryDirectory(prefix="main-job-") as state, open(os.devnull, "w") as null:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        proc = subprocess.Popen(argv, stdout=null, stderr=null, env={**env, "AGENT_STATE_DIR": state})
        _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime


def median_cpu(argv: list[str], repeat: int) -> tuple[float, list[float]]:
    runs = [cpu_s(argv) for _ in range(repeat)]
    return statistics.median(runs), runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, choices=range(1, 10), metavar="N",
                        help="runs of each command; the median is compared (default 3)")
    args = parser.parse_args(argv)
    agent = agent_argv()
    rows = [("import the four client libraries", [sys.executable, "-c", IMPORTS]),
            ("agent fix --dry-run --sim", [*agent, "fix", "--dry-run", "--sim", "-o", "json"]),
            ("agent playbooks list", [*agent, "playbooks", "list"])]
    for _, cmd in rows:  # one run each first: the bytecode written, the files in the page cache
        cpu_s(cmd)
    measured = [(name, *median_cpu(cmd, args.repeat)) for name, cmd in rows]
    base = measured[0][1]
    print(f"{'command':36} {'CPU s':>7} {'x import':>9}  runs (s)")
    for name, cpu, runs in measured:
        print(f"{name:36} {cpu:7.2f} {cpu / base:8.2f}x  " + " / ".join(f"{r:.2f}" for r in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
