"""The bad-input corpus: config, playbook, heal-policy and command-line input that must each end with
exit 2, one clear line on stderr, no traceback and no secret (reliability review, bad input).

Every case starts from the toy config and playbooks and spoils one thing. `SECRET` is a password-shaped
value pasted where it does not belong; it must never be echoed back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import main as cli
from agent.cli import session
from tests.conftest import TOY_CONFIG, playbook_yaml
from tests.fakes import ToyWorld

SECRET = "Mig-z1bV4R54XGr613Aa!9"
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
DEEP = "tenants: " + "[" * 20000 + "]" * 20000 + "\n"


def replaced(old: str, new: str) -> str:
    assert old in TOY_CONFIG, old
    return TOY_CONFIG.replace(old, new, 1)


@dataclass
class Case:
    """One spoiled input: the files it writes (name -> text or bytes) and the command it runs."""

    id: str
    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    words: str = ""  # a fragment the error line must contain


CONFIG_TEXTS: dict[str, str | bytes] = {
    "alias-bomb": BOMB,
    "deep-nesting": DEEP,
    "nul-byte": TOY_CONFIG.replace("contoso\n", "contoso\x00\n", 1),
    "invalid-utf8": TOY_CONFIG.encode() + b"\n# \xff\xfe\n",
    "binary": bytes(range(256)) * 8,
    "empty": "",
    "a-list": "- tenants\n- connectors\n",
    "a-scalar": "just words\n",
    "tabs": TOY_CONFIG.replace("  - name: contoso", "\t- name: contoso", 1),
    "unclosed-quote": TOY_CONFIG.replace("name: contoso", 'name: "contoso', 1),
    "unknown-top-key": TOY_CONFIG + "tennants: []\n",
    "unknown-connector-key": replaced("    kind: exchange-online\n",
                                      "    kind: exchange-online\n    colour: red\n"),
    "kind-is-a-secret": replaced("kind: exchange-online", f"kind: {SECRET}"),
    "auth-is-a-secret": replaced("      password: env:TOY_SVC_PASSWORD",
                                 f"      password: env:TOY_SVC_PASSWORD\n      auth: {SECRET}"),
    "password-in-clear": replaced("password: env:TOY_SVC_PASSWORD", f"password: {SECRET}"),
    "client-secret-in-clear": replaced("client_secret: env:TOY_ADMIN_SECRET", f"client_secret: {SECRET}"),
    "secret-ref-bad-scheme": replaced("password: env:TOY_SVC_PASSWORD", f"password: vault:{SECRET}"),
    "unknown-tenant": replaced("    tenant: contoso\n    kind: exchange-online", "    tenant: fabrikam\n"
                               "    kind: exchange-online"),
    "duplicate-connector": TOY_CONFIG.replace("name: files1", "name: mail1"),
    "client-id-not-guid": replaced("client_id: 11111111-1111-1111-1111-111111111111", "client_id: my-app"),
    "connectors-a-mapping": replaced("connectors:\n", "connectors: {}\nx:\n"),
    "no-connectors": TOY_CONFIG.split("connectors:")[0],
    "read-timeout-negative": TOY_CONFIG + "network:\n  read_s: -1\n",
    "read-timeout-words": TOY_CONFIG + "network:\n  read_s: forever\n",
    "read-timeout-huge": TOY_CONFIG + "network:\n  read_s: 100000\n",
    "cloud-is-a-secret": replaced("    tenant_id: contoso.onmicrosoft.com\n",
                                  "    tenant_id: contoso.onmicrosoft.com\n    endpoints:\n"
                                  f"      cloud: {SECRET}\n"),
    "tenant-id-is-a-secret": replaced("tenant_id: contoso.onmicrosoft.com", f"tenant_id: {SECRET}"),
    "state-dir-a-number": TOY_CONFIG + "state_dir: [1, 2]\n",
    "connector-name-spaces": replaced("name: mail1", "name: mail one"),
    "yaml-document-stream": TOY_CONFIG + "---\nmore: 1\n",
    "huge-file": TOY_CONFIG + "# " + "x" * (11 * 1024 * 1024) + "\n",
}

PLAYBOOK_TEXTS: dict[str, str | bytes] = {
    "alias-bomb": BOMB,
    "deep-nesting": "id: " + "[" * 20000 + "]" * 20000 + "\n",
    "nul-byte": playbook_yaml("toy-x", "mail", "toy-always-found", None, None).replace("title", "ti\x00tle"),
    "redos-pattern": playbook_yaml("toy-x", "mail", "toy-always-found", None, None).replace(
        'text: "toy symptom toy-x"', "pattern: '(a+)+$'"),
    "bad-regex": playbook_yaml("toy-x", "mail", "toy-always-found", None, None).replace(
        'text: "toy symptom toy-x"', "pattern: '(unclosed'"),
    "unknown-detector": playbook_yaml("toy-x", "mail", "no-such-detector", None, None),
    "id-not-kebab": playbook_yaml("Toy_X", "mail", "toy-always-found", None, None),
    "area-is-a-secret": playbook_yaml("toy-x", SECRET, "toy-always-found", None, None),
    "not-a-mapping": "- id: toy-x\n",
    "binary": bytes(range(256)) * 4,
    "risk-unknown": playbook_yaml("toy-x", "mail", "toy-always-found", "toy-make-admin", "extreme"),
    "unknown-field": playbook_yaml("toy-x", "mail", "toy-always-found", None, None) + "colour: red\n",
}

POLICY_TEXTS: dict[str, str | bytes] = {
    "alias-bomb": BOMB,
    "deep-nesting": "allow: " + "[" * 20000 + "]" * 20000 + "\n",
    "nul-byte": "max_risk: low\x00\n",
    "max-risk-is-a-secret": f"max_risk: {SECRET}\n",
    "webhook-format-is-a-secret": f"notify:\n  - url: env:HOOK\n    format: {SECRET}\n",
    "unknown-key": "max_rsik: low\n",
    "a-list": "- low\n",
    "deadline-words": "deadline: soon\n",
    "deny-is-a-mapping": "deny: {a: b}\n",
    "allow-unknown-cause": "allow: [no-such-cause]\n",
    "notify-url-bad-scheme": "notify:\n  - url: ftp://hooks.example/x\n",
    "when-unknown-status": "notify:\n  - url: env:HOOK\n    when: [sometimes]\n",
    "rotate-days-negative": "rotate_expiring_days: -3\n",
    "binary": bytes(range(256)) * 4,
}


def cases() -> list[Case]:
    out = [Case(f"config-{name}", ["diagnose", "--config", "{dir}/bad.yaml"], {"bad.yaml": text})
           for name, text in CONFIG_TEXTS.items()]
    for name, text in PLAYBOOK_TEXTS.items():
        file = {f"pb/{'Toy_X' if name == 'id-not-kebab' else 'toy-x'}.yaml": text}
        out.append(Case(f"playbook-validate-{name}", ["playbooks", "validate", "{dir}/pb"], file))
        out.append(Case(f"playbook-diagnose-{name}", ["diagnose", "--config", "{config}", "--playbooks",
                                                      "{dir}/pb"], file))
    heal = ["heal", "--config", "{config}", "--playbooks", "{playbooks}", "--policy", "{dir}/policy.yaml"]
    out += [Case(f"policy-{name}", heal, {"policy.yaml": text}) for name, text in POLICY_TEXTS.items()]
    out += [
        Case("playbooks-empty-folder", ["playbooks", "validate", "{dir}/none"], {"none/readme.txt": "x"},
             "no playbook files"),
        Case("diagnose-empty-playbook-folder",
             ["diagnose", "--config", "{config}", "--playbooks", "{dir}/none"],
             {"none/readme.txt": "x"}, "no playbook files"),
        Case("missing-config", ["diagnose", "--config", "{dir}/nope.yaml"], {}, "config file not found"),
        Case("config-is-a-folder", ["diagnose", "--config", "{dir}"], {}, ""),
        Case("deadline-words", ["diagnose", "--config", "{config}", "--deadline", "soon"]),
        Case("deadline-zero", ["diagnose", "--config", "{config}", "--deadline", "0"]),
        Case("output-unknown", ["diagnose", "--config", "{config}", "-o", "xml"]),
        Case("output-is-a-secret", ["diagnose", "--config", "{config}", "-o", SECRET]),
        Case("risk-is-a-secret", ["fix", "--config", "{config}", "--allow-risk", SECRET]),
        Case("unknown-connector", ["diagnose", "--config", "{config}", "--connector", "nope"]),
        Case("unknown-cause",
             ["diagnose", "--config", "{config}", "--playbooks", "{playbooks}", "--only", "nope"]),
        Case("history-limit-huge", ["history", "--limit", "99999999999999999999999"]),
        Case("history-limit-zero", ["history", "--limit", "0"]),
        Case("history-unknown-run", ["history", "20200101-000000-dead"], {}, "unknown run id"),
        Case("undo-unknown-run", ["undo", "20200101-000000-dead", "--config", "{config}"]),
        Case("state-dir-is-a-file", ["diagnose", "--config", "{config}", "--state-dir", "{dir}/plain"],
             {"plain": "x"}, "not a directory"),
        Case("explain-nothing", ["explain", "--file", "{dir}/empty.log"], {"empty.log": ""}),
        Case("explain-missing-file", ["explain", "--file", "{dir}/nope.log"]),
        Case("explain-folder", ["explain", "--file", "{dir}"]),
        Case("explain-binary", ["explain", "--file", "{dir}/b.bin"], {"b.bin": bytes(range(256)) * 64}),
        Case("explain-nul-heavy", ["explain", "--file", "{dir}/n.log"], {"n.log": b"401\x00" * 4096}),
        Case("explain-dev-zero", ["explain", "--file", "/dev/zero"]),
        Case("explain-huge", ["explain", "--file", "{dir}/h.log"], {"h.log": "401 Unauthorized\n" * 700_000}),
        Case("explain-redos-playbook", ["explain", "--playbooks", "{dir}/pb", "a" * 40 + "!"],
             {"pb/toy-x.yaml": PLAYBOOK_TEXTS["redos-pattern"]}, "unsafe regular expression"),
    ]
    return out


ALL = cases()


def write_files(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")


@pytest.fixture
def run_case(toy_world: ToyWorld, toy_config_path: Path, toy_playbooks_dir: Path, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Callable[[Case], tuple[int, str, str]]:
    monkeypatch.setattr(session, "default_clients_factory", lambda: toy_world.factory)
    for name in ("AGENT_CONFIG", "AGENT_PLAYBOOKS", "AGENT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TOY_ADMIN_SECRET", "toy-admin-secret")
    monkeypatch.chdir(tmp_path)

    def run(case: Case) -> tuple[int, str, str]:
        folder = tmp_path / "case"
        folder.mkdir()
        write_files(folder, case.files)
        args = [a.format(dir=folder, config=toy_config_path, playbooks=toy_playbooks_dir) for a in case.args]
        result = CliRunner().invoke(cli.app, args)
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_bad_input_is_one_line_exit_2_and_no_secret(run_case: Callable[[Case], tuple[int, str, str]],
                                                    case: Case) -> None:
    code, stdout, stderr = run_case(case)
    lines = stderr.strip().splitlines()
    assert code == 2, (code, stdout[-500:], stderr[-500:])
    assert len(lines) == 1 and "Traceback" not in stdout + stderr, stderr[-1000:]
    assert SECRET not in stdout + stderr
    assert case.words in lines[0], lines[0]


def test_the_corpus_is_large() -> None:
    assert len(ALL) >= 90
