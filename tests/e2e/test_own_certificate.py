"""heal renews the agent's own certificate before it expires: addKey with proof of possession, the file
switched after a token proves the new key, the old key removed; `agent undo` puts the old one back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.simulator import Simulator
from tests.e2e.test_init import APP_NAME, Setup

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _thumbprints(s: Setup) -> list[str]:
    [made] = [a for a in s.sim.state.applications.values() if a.unique_name == APP_NAME]
    return [k.thumbprint for k in made.key_credentials]


def test_heal_renews_the_agents_certificate_and_undo_restores_it(sim: Simulator, tmp_path: Path) -> None:
    s = Setup(sim, tmp_path)
    assert s.init("--cert-days", "10", "--no-connectors").exit_code == 0
    key = tmp_path / "agent-admin.pem"
    old_pem, old_thumbs = key.read_text(), _thumbprints(s)
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_risk: none\nown_certificate_renew_days: 30\n")

    healed = s.run("heal", "--policy", str(policy))
    assert "renewed the agent's certificate" in healed.stderr, healed.stdout + healed.stderr
    new_pem, new_thumbs = key.read_text(), _thumbprints(s)
    assert new_pem.strip() != old_pem.strip()
    assert len(new_thumbs) == 1 and new_thumbs != old_thumbs  # the old key removed
    assert (tmp_path / "agent-admin.pem.previous").read_text().strip() == old_pem.strip()
    assert "PRIVATE KEY" not in healed.stdout + healed.stderr
    proofs = [e for e in sim.request_log.entries()
              if str(e.get("path", "")).endswith(("/addKey", "/removeKey"))]
    assert [e["status"] for e in proofs] == [200, 204]

    again = s.run("heal", "--policy", str(policy))  # renewed: not due any more
    assert "renewed" not in again.stderr and _thumbprints(s) == new_thumbs

    run_id = re.search(r"\[run (\S+)\]", healed.stderr)
    assert run_id is not None
    undone = s.run("undo", run_id.group(1))
    assert undone.exit_code == 0, undone.stdout + undone.stderr
    assert key.read_text().strip() == old_pem.strip() and _thumbprints(s) == old_thumbs


def test_add_key_needs_a_proof_signed_by_a_current_key(sim: Simulator, tmp_path: Path) -> None:
    import requests

    from agent.simulator.scenarios.contoso import make_certificate
    from agent.trust.own_certificate import proof

    s = Setup(sim, tmp_path)
    assert s.init("--no-connectors").exit_code == 0
    [made] = [a for a in sim.state.applications.values() if a.unique_name == APP_NAME]
    pem = (tmp_path / "agent-admin.pem").read_text()
    from azure.identity import CertificateCredential

    token = CertificateCredential(sim.state.tenant_id, made.app_id, certificate_data=pem.encode(),
                                  authority=sim.base_url, disable_instance_discovery=True,
                                  connection_verify=sim.ca_path).get_token("https://graph.microsoft.com/.default")
    new = make_certificate("next")
    url = f"{sim.base_url}/v1.0/applications/{made.id}/addKey"
    headers = {"Authorization": f"Bearer {token.token}"}
    body = {"keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": new.key_b64}}
    stranger = make_certificate("stranger").pem
    bad = requests.post(url, json={**body, "proof": proof(stranger, made.id)}, headers=headers,
                        verify=sim.ca_path, timeout=10)
    assert bad.status_code == 400  # signed by a key the app does not hold
    wrong_iss = requests.post(url, json={**body, "proof": proof(pem, "someone-else")}, headers=headers,
                              verify=sim.ca_path, timeout=10)
    assert wrong_iss.status_code == 400
    good = requests.post(url, json={**body, "proof": proof(pem, made.id)}, headers=headers,
                         verify=sim.ca_path, timeout=10)
    assert good.status_code == 200 and good.json()["keyId"] and good.json()["key"] is None
    assert len(made.key_credentials) == 2
