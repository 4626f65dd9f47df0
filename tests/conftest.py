"""Shared fixtures: a toy catalog and tenant, a fake clock, a journal, a tiny config and playbook folder."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config.load import load_config
from agent.engine.core import Engine
from agent.journal.store import Journal
from tests.fakes import APPROVE_ALL, FakeClock, MakeEngine, ToyWorld, register_toys, unregister_toys

pytest_plugins = ["tests.simulator.fixtures"]

TOY_CONFIG = """\
tenants:
  - name: contoso
    tenant_id: contoso.onmicrosoft.com
    admin:
      client_id: 11111111-1111-1111-1111-111111111111
      client_secret: env:TOY_ADMIN_SECRET
connectors:
  - name: mail1
    tenant: contoso
    kind: exchange-online
    account:
      username: svc@contoso.onmicrosoft.com
      password: env:TOY_SVC_PASSWORD
  - name: files1
    tenant: contoso
    kind: onedrive
    app:
      client_id: 22222222-2222-2222-2222-222222222222
      client_secret: env:TOY_APP_SECRET
"""

# id -> (area, detector, fixer or None, risk or None); all apply to exchange-online only
TOY_PLAYBOOKS = {
    "toy-unlicensed": ("mail", "toy-licence-missing", "toy-assign-licence", None),
    "toy-not-admin": ("mail", "toy-admin-missing", "toy-make-admin", None),
    "toy-federated": ("mail", "toy-always-found", None, None),
}


def playbook_yaml(pid: str, area: str, detector: str, fixer: str | None, risk: str | None) -> str:
    fix = f"fix:\n  use: {fixer}\n" + (f"  risk: {risk}\n" if risk else "") if fixer else ""
    return textwrap.dedent(f"""\
        id: {pid}
        title: Toy cause {pid}
        area: {area}
        applies_to: [exchange-online]
        symptoms:
          - text: "toy symptom {pid}"
        detect:
          use: {detector}
        """) + fix + "advice: |\n  Fix the toy cause by hand.\n"


@pytest.fixture(autouse=True, scope="session")
def _explain_cache_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """explain's knowledge cache (agent.explain.cache) goes to a temporary folder, never ~/.cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("AGENT_CACHE_DIR", str(tmp_path_factory.mktemp("explain-cache")))
    yield
    patch.undo()


@pytest.fixture
def toy_catalog() -> Iterator[None]:
    """The toy detectors and fixers, registered for one test only."""
    register_toys()
    yield
    unregister_toys()


@pytest.fixture
def toy_world(toy_catalog: None) -> ToyWorld:
    """A healthy in-memory tenant; tests break it."""
    return ToyWorld()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite3") as j:
        yield j


@pytest.fixture
def toy_config_path(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(TOY_CONFIG)
    return path


@pytest.fixture
def toy_playbooks_dir(tmp_path: Path, toy_catalog: None) -> Path:
    """A playbooks/ folder with one YAML file per toy cause."""
    root = tmp_path / "playbooks"
    for pid, (area, detector, fixer, risk) in TOY_PLAYBOOKS.items():
        folder = root / area
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{pid}.yaml").write_text(playbook_yaml(pid, area, detector, fixer, risk))
    return root


@pytest.fixture
def make_engine(toy_world: ToyWorld, journal: Journal, fake_clock: FakeClock,
                toy_config_path: Path) -> MakeEngine:
    """An engine over the toy tenant, its journal and a fake clock; `make(playbooks, approver, **kw)`."""
    def make(playbooks: list[Any], approver: Any = APPROVE_ALL, **kw: Any) -> Engine:
        return Engine(load_config(toy_config_path), playbooks, journal, toy_world.factory, approver,
                      sleep=fake_clock.sleep, clock=fake_clock, **kw)
    return make
