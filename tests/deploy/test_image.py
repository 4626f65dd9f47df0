"""The Dockerfile builds the image deploy/ runs: python:3.11-slim, pip install, non-root, `agent` entrypoint.

No image is built here (that needs a daemon and the network); the instructions are read as Docker reads
them, and every deploy manifest must name the tag the documented build command makes.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    text = re.sub(r"\\\n", " ", re.sub(r"(?m)^\s*#.*\n", "", (ROOT / "Dockerfile").read_text()))
    found = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def image() -> str:
    return f"m365-401-agent:{version()}"


def test_slim_python_3_11_installed_with_pip() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert [s for s in steps if s[0] == "FROM"] == [steps[0]]
    runs = [args for word, args in steps if word == "RUN"]
    assert any(re.search(r"\bpip install /src\b", args) for args in runs)
    for word, args in steps:
        if word == "COPY":  # every source exists, so the build cannot stop on a missing file
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_it_runs_as_a_non_root_user_it_creates() -> None:
    steps = instructions()
    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0  # numeric: runAsNonRoot
    made = " ".join(args for word, args in steps[:steps.index(("USER", users[-1]))] if word == "RUN")
    assert f"--uid {uid}" in made and f"--gid {gid}" in made
    base = yaml.safe_load((DEPLOY / "base" / "cronjob.yaml").read_text())
    context = base["spec"]["jobTemplate"]["spec"]["template"]["spec"]["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    assert context["runAsNonRoot"] is True


def test_the_entrypoint_is_the_agent_console_script() -> None:
    [entrypoint] = [args for word, args in instructions() if word == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["agent"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["agent"] == "agent.cli.main:main"


def test_deploy_runs_the_image_the_documented_build_makes() -> None:
    build = f"docker build -t {image()} ."
    assert build in (ROOT / "Dockerfile").read_text() and build in (ROOT / "README.md").read_text()
    top = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert top["images"] == [{"name": "m365-401-agent", "newName": "m365-401-agent", "newTag": version()}]
    named = re.findall(r"image:\s*(\S+)", "".join(p.read_text() for p in sorted(DEPLOY.rglob("*.yaml"))
                                                  if p.name != "kustomization.yaml"))
    assert named and set(named) == {image()}


def test_the_build_context_is_only_what_the_package_is_built_from() -> None:
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line and not line.startswith("#")]
    assert ignored[0] == "*"  # state directories, secrets, .venv never reach the build
    kept = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    copied = {s.rstrip("/") for word, args in instructions() if word == "COPY" for s in args.split()[:-1]}
    assert copied <= kept
