"""`agent explain` against the cost of importing the four client libraries, side by side in one run.

Each sample is a fresh interpreter: (a) `agent explain TEXT` (reads every playbook and vocabulary, scores the
text, prints the answer) and (b) `import msgraph, azure.identity, exchangelib, office365` (what any
command that talks to a tenant pays before its first request). Cost is CPU time (user + system, from the
kernel's accounting of each child), as in benchmarks/main_job.py: on a shared machine the wall clock measures
the neighbours as much as the command. The medians of N samples each, taken in alternation so both see the
same machine, and their ratio are printed; the target is a ratio of 0.35 or less. Both run with their
bytecode written, as an installed tool has it (the four libraries' always is, from their install): the
children ignore PYTHONDONTWRITEBYTECODE, which would otherwise make the agent alone compile its source on
every run.

Run: python benchmarks/explain_speed.py [--repeat N] [--text TEXT]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

TEXT = ("The remote server returned an error: (401) Unauthorized. AADSTS7000222: The provided client secret "
        "keys for app '6f1c7b2e-3d4a-4b8e-9f10-7c2d5e8a9b31' are expired.")
IMPORTS = "import msgraph, azure.identity, exchangelib, office365.sharepoint.client_context"


def timed(argv: list[str]) -> float:
    """User + system CPU seconds of one run of argv (its own rusage, through wait4)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with open(os.devnull, "w") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=null, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[1:4]} failed")
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--text", default=TEXT)
    args = parser.parse_args()
    explain_argv = [sys.executable, "-m", "agent", "explain", args.text]
    import_argv = [sys.executable, "-c", IMPORTS]
    timed(explain_argv), timed(import_argv)  # warm the file cache and the bytecode of both
    explains, imports = [], []
    for _ in range(args.repeat):
        explains.append(timed(explain_argv))
        imports.append(timed(import_argv))
    e, i = statistics.median(explains), statistics.median(imports)
    for name, median, samples in (("agent explain", e, explains),
                                  ("import the four client libraries", i, imports)):
        print(f"{name:<40} median {median:6.3f} s CPU  ({', '.join(f'{x:.2f}' for x in samples)})")
    print(f"ratio explain / imports: {e / i:.2f} (target <= 0.35)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
