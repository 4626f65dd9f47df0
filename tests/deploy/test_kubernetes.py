"""deploy/kubernetes renders (`kubectl kustomize`) into one CronJob per tenant, each healing its tenant.

kubectl comes from Debian's kubernetes-client package, which .ci/run installs: without it the test
skips on a developer's machine and fails in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.load import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
GUID = re.compile(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}")


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("kubectl is missing: CI installs Debian's kubernetes-client (.ci/run)")
    pytest.skip("kubectl is not installed (apt-get install kubernetes-client)")


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    proc = subprocess.run([kubectl(), "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def listed_tenants() -> list[str]:
    top = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return [Path(entry).name for entry in top["bases"]]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec(job)["containers"]
    return {e["name"]: e for e in container["env"]}


def test_one_cronjob_per_listed_tenant(rendered: list[dict[str, Any]]) -> None:
    tenants = listed_tenants()
    assert len(tenants) >= 2 and sorted(tenants) == sorted({t for t in tenants})
    jobs = by_kind(rendered, "CronJob")
    assert sorted(jobs) == sorted(f"agent-heal-{t}" for t in tenants)
    maps = by_kind(rendered, "ConfigMap")
    for tenant in tenants:
        job = jobs[f"agent-heal-{tenant}"]
        (container,) = pod_spec(job)["containers"]
        assert container["args"][:5] == ["heal", "--config", "/etc/agent/customers", "--tenant",
                                         "$(AGENT_TENANT)"]
        ref = env_of(job)["AGENT_TENANT"]["valueFrom"]["configMapKeyRef"]
        assert maps[ref["name"]]["data"][ref["key"]] == tenant  # $(AGENT_TENANT) is this job's tenant
        assert job["spec"]["concurrencyPolicy"] == "Forbid"


def test_each_job_signs_in_with_its_own_workload_identity(rendered: list[dict[str, Any]]) -> None:
    accounts = by_kind(rendered, "ServiceAccount")
    client_ids = set()
    for name, job in by_kind(rendered, "CronJob").items():
        pod = job["spec"]["jobTemplate"]["spec"]["template"]
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        account = accounts[pod_spec(job)["serviceAccountName"]]
        client_id = account["metadata"]["annotations"]["azure.workload.identity/client-id"]
        assert GUID.fullmatch(client_id) and client_id != "00000000-0000-0000-0000-000000000000", name
        client_ids.add(client_id)
    assert len(client_ids) == len(accounts) == len(listed_tenants())


def test_the_journal_url_comes_from_a_secret(rendered: list[dict[str, Any]]) -> None:
    for job in by_kind(rendered, "CronJob").values():
        url = env_of(job)["AGENT_JOURNAL_URL"]
        assert url["valueFrom"]["secretKeyRef"] == {"name": "agent-journal", "key": "url"}
    text = yaml.safe_dump_all(rendered)
    assert "postgresql://" not in text
    assert not by_kind(rendered, "Secret")  # secrets are the operator's, never in the repository


def test_each_customer_file_is_a_valid_config_for_its_tenant(rendered: list[dict[str, Any]],
                                                             tmp_path: Path) -> None:
    maps = by_kind(rendered, "ConfigMap")
    for job in by_kind(rendered, "CronJob").values():
        tenant = maps[env_of(job)["AGENT_TENANT"]["valueFrom"]["configMapKeyRef"]["name"]]["data"]["tenant"]
        volume = next(v for v in pod_spec(job)["volumes"] if v["name"] == "customers")
        folder = tmp_path / tenant
        folder.mkdir()
        for name, text in maps[volume["configMap"]["name"]]["data"].items():
            (folder / name).write_text(text)
        config = load_config(folder)
        assert [t.name for t in config.tenants] == [tenant]
        assert config.tenants[0].admin.method == "workload-identity"
        assert {c.tenant for c in config.connectors} == {tenant}


def test_every_container_runs_the_image_the_dockerfile_builds(rendered: list[dict[str, Any]]) -> None:
    from tests.deploy.test_image import image

    for job in by_kind(rendered, "CronJob").values():
        pod = pod_spec(job)
        assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {image()}
