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

`--log-mb N` adds a second part: explain on a synthetic log of N MB (a real error line at its end), in this
process, once as it runs and once with every pattern searched through the whole text (the literal test
that skips absent patterns switched off), side by side; both must give the same answer.

Run: python benchmarks/explain_speed.py [--repeat N] [--text TEXT] [--log-mb N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

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


LOG_WORDS = ("request", "response", "server", "mailbox", "folder", "item", "sync", "batch", "retry", "token",
             "site", "list", "user", "error", "warning", "info", "completed", "started", "GET", "POST", "200")


def large_log(megabytes: float) -> str:
    """A log of mostly ordinary lines, the error at its end (seeded: the same log every run)."""
    rng = random.Random(7)
    lines, size = [], 0
    while size < megabytes * 1_000_000:
        line = f"2026-12-07 10:{rng.randrange(60):02d}:{rng.randrange(60):02d} " + " ".join(
            rng.choice(LOG_WORDS) for _ in range(12))
        lines.append(line)
        size += len(line) + 1
    return "\n".join([*lines, TEXT])


def log_part(megabytes: float) -> None:
    from agent.explain import literals
    from agent.explain.knowledge import load_knowledge
    from agent.explain.rank import explain

    knowledge, text, threshold = load_knowledge(), large_log(megabytes), literals.SMALL_TEXT
    runs = []
    try:
        for label, small_text in (("as it runs", threshold), ("every pattern searched", 1 << 62)):
            literals.SMALL_TEXT = small_text
            started = time.process_time()
            answer = explain(text, knowledge)
            runs.append((label, time.process_time() - started, [m.id for m in answer.causes]))
    finally:
        literals.SMALL_TEXT = threshold
    print(f"\nexplain on a {megabytes:g} MB log ({len(text):,} characters), in this process:")
    for label, cpu, causes in runs:
        print(f"  {label:<28} {cpu:6.2f} s CPU  -> {', '.join(causes) or 'no cause'}")
    print(f"  ratio: {runs[0][1] / runs[1][1]:.2f}; same answer: {runs[0][2] == runs[1][2]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--log-mb", type=float, default=0, help="also time explain on a log of N MB")
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
    if args.log_mb > 0:
        log_part(args.log_mb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
