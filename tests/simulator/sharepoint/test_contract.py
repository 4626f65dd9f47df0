"""SharePoint REST answers in the shapes SharePoint Online documents, and no looser.

Pages followed (SharePoint/sp-dev-docs, docs/):
sp-add-ins/complete-basic-operations-using-sharepoint-rest-endpoints.md (contextinfo, odata=verbose vs
nometadata), sp-add-ins/set-custom-permissions-on-a-list-by-using-the-rest-interface.md (getbyprincipalid
+ X-HTTP-Method: DELETE, roledefinitions/getbyname('…')/id) and
general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online.md (429/503 + Retry-After).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.identity import CertificateCredential

from agent.clients.errors import ReadFailed, Throttled, translate
from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ADMIN_APP_ID
from tests.simulator import identity_kw

SITE = "/sites/source"
VERBOSE = "application/json;odata=verbose"
NOMETADATA = "application/json;odata=nometadata"


def _token(tenant: Simulator) -> str:
    pem = tenant.state.extras["admin_cert"].pem.encode()
    credential = CertificateCredential(tenant.state.tenant_id, ADMIN_APP_ID, certificate_data=pem,
                                       **identity_kw(tenant))
    return credential.get_token(f"{tenant.base_url}/.default").token


def _call(tenant: Simulator, method: str, rest: str, accept: str = NOMETADATA,
          **headers: str) -> requests.Response:
    sent = {"Authorization": f"Bearer {_token(tenant)}", "Accept": accept, **headers}
    return requests.request(method, f"{tenant.base_url}{SITE}/_api/{rest}", headers=sent,
                            verify=tenant.ca_path, timeout=30)


@pytest.mark.parametrize("accept", [NOMETADATA, "application/json;odata=minimalmetadata", "application/json"])
def test_contextinfo_answers_flat_unless_verbose_is_asked(tenant: Simulator, accept: str) -> None:
    body = _call(tenant, "POST", "contextinfo", accept).json()
    assert "d" not in body and body["FormDigestValue"].startswith("0x")
    assert body["FormDigestTimeoutSeconds"] == 1800 and isinstance(body["SupportedSchemaVersions"], list)


def test_contextinfo_verbose_wraps_get_context_web_information(tenant: Simulator) -> None:
    info = _call(tenant, "POST", "contextinfo", VERBOSE).json()["d"]["GetContextWebInformation"]
    assert info["FormDigestValue"].startswith("0x")
    assert info["SupportedSchemaVersions"]["results"]


@pytest.mark.parametrize("accept", [NOMETADATA, VERBOSE])
def test_web_default_payload_leaves_out_permissions_and_inheritance(tenant: Simulator, accept: str) -> None:
    body: dict[str, Any] = _call(tenant, "GET", "web", accept).json()
    web = body.get("d", body)
    assert web["Title"] and "EffectiveBasePermissions" not in web and "HasUniqueRoleAssignments" not in web
    selected = _call(tenant, "GET", "web?$select=EffectiveBasePermissions,HasUniqueRoleAssignments",
                     accept).json()
    selected = selected.get("d", selected)
    assert "EffectiveBasePermissions" in selected and selected["HasUniqueRoleAssignments"] is True


def test_throttling_is_status_and_retry_after_not_a_threshold_exception(tenant: Simulator) -> None:
    tenant.set_faults({"throttle": {"first": 1, "retry_after_s": 2, "services": ["sharepoint"]}})
    throttled = _call(tenant, "GET", "web")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert "SPQueryThrottledException" not in throttled.text


def test_a_list_view_threshold_error_is_not_taken_for_throttling() -> None:
    class SPQueryThrottledException(Exception):
        """What a client would raise for SharePoint's HTTP 500 list view threshold error."""

    assert isinstance(translate(SPQueryThrottledException("threshold")), ReadFailed)
    assert not isinstance(translate(SPQueryThrottledException("threshold")), Throttled)


def _principal(tenant: Simulator) -> int:
    assignments = _call(tenant, "GET", "web/roleassignments").json()["value"]
    return int(assignments[-1]["PrincipalId"])


def test_role_assignment_removed_by_x_http_method_delete(tenant: Simulator) -> None:
    pid = _principal(tenant)
    assert _call(tenant, "GET", f"web/roleassignments/getbyprincipalid('{pid}')").status_code == 200
    deleted = _call(tenant, "POST", f"web/roleassignments/getbyprincipalid('{pid}')", VERBOSE,
                    **{"X-HTTP-Method": "DELETE"})
    assert deleted.status_code == 200
    gone = _call(tenant, "GET", f"web/roleassignments/getbyprincipalid({pid})")
    assert gone.status_code == 404 and f"Can not find the principal with id: {pid}." in gone.text


def test_role_definition_id_by_name_as_the_docs_request_it(tenant: Simulator) -> None:
    verbose = _call(tenant, "GET", "web/roledefinitions/getbyname('Contribute')/id", VERBOSE).json()
    assert verbose == {"d": {"Id": 1073741827}}
    plain = _call(tenant, "GET", "web/roledefinitions/getbyname('Contribute')/id").json()
    assert plain == {"value": 1073741827}
