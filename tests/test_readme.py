"""The README's two set-up commands are the ones CI runs, so a missing install step fails here first."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sh_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_ci_installs_exactly_as_the_readme_says_and_runs_its_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install_and_run, tests = _sh_blocks(readme)[:2]
    install = install_and_run.split(" && .venv/bin/agent ")[0]
    assert install_and_run.endswith("agent fix --dry-run --sim"), "the first command runs the main job"
    assert install in ci, "CI must install with the README's own command"
    assert tests in ci.splitlines(), "CI must run the README's test command as written"


def test_the_install_command_brings_the_test_extra_the_test_command_needs() -> None:
    install = _sh_blocks((ROOT / "README.md").read_text())[0]
    assert '".[test]"' in install


def test_the_readme_permission_table_is_what_the_detectors_and_fixers_declare() -> None:
    from agent.playbook.load import load_playbooks
    from agent.playbook.manifest import readme_table

    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- permissions:start -->\n(.*?)\n<!-- permissions:end -->", readme, flags=re.S)
    assert found, "the README's permission table lost its markers"
    assert found.group(1).strip() == readme_table(load_playbooks()), \
        "regenerate it with `agent permissions --readme-table`"
