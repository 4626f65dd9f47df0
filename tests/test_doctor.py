"""`agent doctor`: config, cloud, credential and token, certificate expiry, state directory, TLS issuers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import trustme
from typer.testing import CliRunner

from agent.cli.main import app
from agent.doctor import credential_checks, exit_code, judge_issuer, state_checks


def test_doctor_on_the_simulated_tenant_is_all_ok(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--sim", "--network", "-o", "json",
                                      "--state-dir", str(tmp_path / "state")])
    data = json.loads(result.stdout)
    assert result.exit_code == 0, data
    areas = {c["area"] for c in data["checks"]}
    assert {"config", "tenant", "credential", "token", "network", "state"} <= areas
    token = next(c for c in data["checks"] if c["area"] == "token")
    assert "audience https://graph.microsoft.com" in token["detail"] and "certificate" in token["detail"]
    assert all(c["status"] == "ok" for c in data["checks"])


def _tenant_with_cert(pem: str) -> SimpleNamespace:
    admin = SimpleNamespace(client_id="11111111-1111-1111-1111-111111111111", client_secret=None,
                            certificate=SimpleNamespace(resolve=lambda: pem))
    return SimpleNamespace(name="t", admin=admin)


def test_an_expiring_or_expired_certificate_is_reported() -> None:
    ca = trustme.CA()
    soon = ca.issue_cert("agent.local", not_after=datetime.now(UTC) + timedelta(days=10))
    pem = soon.private_key_pem.bytes().decode() + soon.cert_chain_pems[0].bytes().decode()
    (_, cert) = credential_checks(_tenant_with_cert(pem))
    assert cert.status == "warn" and "401" in cert.detail
    (_, later) = credential_checks(_tenant_with_cert(pem), now=datetime.now(UTC) + timedelta(days=20))
    assert later.status == "fail"
    assert exit_code([cert]) == 3 and exit_code([later]) == 4


def test_a_secret_only_admin_app_is_warned_about_sharepoint() -> None:
    admin = SimpleNamespace(client_id="x", client_secret=object(), certificate=None)
    checks = credential_checks(SimpleNamespace(name="t", admin=admin))
    assert [c.status for c in checks] == ["ok", "warn"] and "SharePoint" in checks[1].detail


def test_a_state_directory_others_can_read_is_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (check,) = state_checks(folder)
    assert check.status == "warn" and "mode 755" in check.detail
    folder.chmod(0o700)
    assert state_checks(folder)[0].status == "ok"


def test_tls_inspection_is_recognised_by_the_issuer() -> None:
    assert judge_issuer("x", "graph.microsoft.com", "Microsoft Corporation").status == "ok"
    assert judge_issuer("x", "contoso.sharepoint.com", "DigiCert Inc").status == "ok"
    inspected = judge_issuer("x", "outlook.office365.com", "Zscaler Inc.")
    assert inspected.status == "warn" and "inspects TLS" in inspected.detail
    assert judge_issuer("x", "mail.contoso.local", "Contoso Root CA").status == "ok"  # not a Microsoft host
