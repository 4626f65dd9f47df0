"""Commands that never call Microsoft Graph do not import its library (msgraph and kiota cost ~0.2-1 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GRAPH_PACKAGES = ("msgraph", "msgraph_core", "kiota_abstractions", "kiota_http", "kiota_serialization_json")
PROBE = """
import json, sys
from agent.cli.main import app
sys.argv = ["agent", *sys.argv[1:]]
try:
    app()
except SystemExit as exit:
    code = exit.code
else:
    code = 0
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(GRAPH)))
print("\\n@@" + json.dumps({"code": code, "graph": loaded}))
"""


def run(state: Path, *argv: str) -> dict[str, object]:
    """Run an agent command in a fresh interpreter; its exit code and the Graph packages it imported."""
    code = PROBE.replace("json.loads(GRAPH)", repr(list(GRAPH_PACKAGES)))
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AGENT_STATE_DIR": str(state)})
    marker = done.stdout.rpartition("\n@@")[2]
    assert marker, (done.stdout, done.stderr)
    return dict(json.loads(marker))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A state directory holding one real run (a diagnose of the simulated tenant), and that run's id."""
    folder = tmp_path_factory.mktemp("state")
    folder.chmod(0o700)
    argv = [sys.executable, "-m", "agent", "diagnose", "--sim", "--only", "legacy-auth-disabled",
            "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AGENT_STATE_DIR": str(folder)})
    return folder, str(json.loads(done.stdout)["run_id"])


@pytest.mark.parametrize("argv", [
    ("playbooks", "list"), ("playbooks", "list", "-o", "json"), ("playbooks", "show", "no-onedrive-access"),
    ("history",), ("history", "{run}"), ("report", "{run}", "-o", "md"), ("report", "{run}", "-o", "json"),
    ("explain", "AADSTS7000222: The provided client secret keys for app are expired"),
])
def test_commands_that_do_not_call_graph_do_not_import_it(state: tuple[Path, str],
                                                          argv: tuple[str, ...]) -> None:
    folder, run_id = state
    result = run(folder, *(a.replace("{run}", run_id) for a in argv))
    assert result["code"] in (0, None), result
    assert result["graph"] == [], f"agent {' '.join(argv)} imported {result['graph']}"


def test_the_probe_sees_graph_when_a_command_loads_it(state: tuple[Path, str]) -> None:
    folder, _ = state  # the check itself can fail: the Graph adapter's own module does load msgraph
    code = PROBE.replace("json.loads(GRAPH)", repr(list(GRAPH_PACKAGES))).replace(
        "from agent.cli.main import app", "from agent.cli.main import app\nimport agent.clients.graph")
    done = subprocess.run([sys.executable, "-c", code, "history"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "AGENT_STATE_DIR": str(folder)})
    assert "msgraph" in json.loads(done.stdout.rpartition("\n@@")[2])["graph"]


def test_help_imports_no_client_library() -> None:
    """`agent --help` is the start-up budget: the command tree loads, none of the four client libraries."""
    code = ("import sys\nfrom agent.cli.main import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "libs = ('msgraph', 'azure', 'exchangelib', 'office365', 'kiota_abstractions', 'msal')\n"
            "print('@@' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in libs)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "Usage" in done.stdout and "diagnose" in done.stdout
    assert done.stdout.rpartition("@@")[2].strip() == ""
