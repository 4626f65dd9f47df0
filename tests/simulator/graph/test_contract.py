"""The simulated Graph serves only paths, methods and JSON properties that Microsoft Graph v1.0 has.

msgraph-sdk is the description checked against: its request builders' `url_template` strings (and the
HTTP methods each builder offers) for the paths, its models' deserializers for the JSON properties.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from kiota_serialization_json.json_serialization_writer_factory import JsonSerializationWriterFactory
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.app_role_assignment_collection_response import (
    AppRoleAssignmentCollectionResponse,
)
from msgraph.generated.models.application import Application
from msgraph.generated.models.application_collection_response import ApplicationCollectionResponse
from msgraph.generated.models.conditional_access_policy import ConditionalAccessPolicy
from msgraph.generated.models.conditional_access_policy_collection_response import (
    ConditionalAccessPolicyCollectionResponse,
)
from msgraph.generated.models.directory_object_collection_response import DirectoryObjectCollectionResponse
from msgraph.generated.models.domain import Domain
from msgraph.generated.models.domain_collection_response import DomainCollectionResponse
from msgraph.generated.models.drive import Drive
from msgraph.generated.models.identity_security_defaults_enforcement_policy import (
    IdentitySecurityDefaultsEnforcementPolicy,
)
from msgraph.generated.models.license_details_collection_response import LicenseDetailsCollectionResponse
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.service_principal_collection_response import ServicePrincipalCollectionResponse
from msgraph.generated.models.site import Site
from msgraph.generated.models.subscribed_sku_collection_response import SubscribedSkuCollectionResponse
from msgraph.generated.models.user import User
from msgraph.generated.models.user_collection_response import UserCollectionResponse

from agent.simulator.core import Services
from agent.simulator.graph import routes as graph
from agent.simulator.graph.directory import user_json
from agent.simulator.graph.odata import GraphError, Reply, new_request_id
from agent.simulator.identity.tokens import TokenService
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, TARGET_SITE, build_contoso
from agent.simulator.state.tenant import EXCHANGE_APP_ID, FULL_ACCESS_AS_APP, GRAPH_APP_ID, Tenant
from tests.simulator.graph_samples_init import init_samples, sdk_pattern

# msgraph-sdk's builders warn about their own deprecated per-builder configuration classes on import.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
BASE = "https://127.0.0.1:8443"
ALL_ROLES = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.ReadWrite.All",
             "User-PasswordProfile.ReadWrite.All", "LicenseAssignment.ReadWrite.All", "Organization.Read.All",
             "Domain.Read.All", "Policy.Read.All", "Policy.ReadWrite.ConditionalAccess",
             "Policy.ReadWrite.SecurityDefaults", "Sites.FullControl.All", "Files.Read.All",
             "GroupMember.Read.All"]
PLACEHOLDER = re.compile(r"\{[^}]*\}")


# -- the SDK's description of Graph v1.0 ---------------------------------------------------------------
@pytest.fixture(scope="module")
def sdk_paths() -> dict[str, set[str]]:
    """Every msgraph-sdk request builder: normalised url_template -> the HTTP methods it offers."""
    spec = importlib.util.find_spec("msgraph")
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent / "generated"
    template = re.compile(r'super\(\).__init__\(request_adapter, "([^"]+)"')
    method = re.compile(r"^    async def (get|post|patch|put|delete)\(", re.MULTILINE)
    paths: dict[str, set[str]] = {}
    for source in root.rglob("*_request_builder.py"):
        text = source.read_text(encoding="utf-8")
        found = template.search(text)
        if found:
            paths[normalise(found.group(1))] = {m.upper() for m in method.findall(text)}
    return paths


def normalise(template: str) -> str:
    """`{+baseurl}/servicePrincipals/{servicePrincipal%2Did}{?%24select}` -> `servicePrincipals/{}`."""
    path = template.removeprefix("{+baseurl}/")
    path = re.sub(r"\{\?[^}]*\}$", "", path)
    return PLACEHOLDER.sub("{}", path)


def test_sdk_description_is_read(sdk_paths: dict[str, set[str]]) -> None:
    assert sdk_paths["users/{}"] == {"GET", "PATCH", "DELETE"}
    assert "made-up/{}" not in sdk_paths


# `(appId='{appId}')` forms the docs pages list (HTTP request section) for which msgraph-sdk has no builder;
# the same operation addressed by id must exist in the SDK.
APPID_FORMS = {
    "applications(appId='{appId}')/addPassword": "application-addpassword.md",
    "servicePrincipals(appId='{appId}')/appRoleAssignedTo": "serviceprincipal-post-approleassignedto.md, "
                                                            "serviceprincipal-list-approleassignedto.md",
    "servicePrincipals(appId='{appId}')/appRoleAssignments/{appRoleAssignment-id}":
        "serviceprincipal-delete-approleassignments.md",
}
BY_ID = {"applications(appId='{appId}')": "applications/{}",
         "servicePrincipals(appId='{appId}')": "servicePrincipals/{}"}


@pytest.mark.parametrize("route", graph.ROUTES, ids=lambda r: f"{r.method} {r.pattern}")
def test_every_served_path_and_method_exists_in_graph(route: Any, sdk_paths: dict[str, set[str]]) -> None:
    pattern = sdk_pattern(route.pattern)
    if pattern in APPID_FORMS:
        base = next(b for b in BY_ID if pattern.startswith(b))
        pattern = BY_ID[base] + pattern[len(base):]
    path = normalise(pattern)
    assert path in sdk_paths, f"{route.pattern} is not a Microsoft Graph v1.0 path"
    assert route.method in sdk_paths[path], f"Graph has no {route.method} {route.pattern}"


def msgraph_core_source(module: str) -> str:
    """Source of a msgraph-core batch module, read rather than imported: importing them needs the
    `deprecated` package, which msgraph-core does not declare."""
    spec = importlib.util.find_spec("msgraph_core")
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "requests" / f"{module}.py").read_text(encoding="utf-8")


def test_batch_path_is_the_sdk_batch_endpoint() -> None:
    source = msgraph_core_source("batch_request_builder")
    assert f"base_url.removesuffix('/')}}/{graph.BATCH_PATH}\"" in source


# -- property names: parse every answer with the SDK's own models ----------------------------------------
def parse(model: type[Parsable], body: dict[str, Any]) -> Parsable:
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(body).encode())
    return node.get_object_value(model)  # type: ignore[attr-defined]


def unknown_properties(obj: Any, where: str) -> list[str]:
    """Properties the model did not recognise (kiota keeps them in additional_data), at any depth."""
    if isinstance(obj, list):
        return [p for i, item in enumerate(obj) for p in unknown_properties(item, f"{where}[{i}]")]
    if not is_dataclass(obj):
        return []
    extra = getattr(obj, "additional_data", None) or {}
    found = [f"{where}.{k}" for k in extra if not k.startswith("@odata.")]
    for f in fields(obj):
        if f.name not in ("additional_data", "backing_store"):
            found += unknown_properties(getattr(obj, f.name), f"{where}.{f.name}")
    return found


def lost_properties(sent: Any, parsed: Any, where: str) -> list[str]:
    """Non-null properties that did not survive parse + re-serialise: a wrong type or enum value."""
    if isinstance(sent, list) and isinstance(parsed, list):
        return [p for i, (s, q) in enumerate(zip(sent, parsed, strict=False))
                for p in lost_properties(s, q, f"{where}[{i}]")]
    if not isinstance(sent, dict) or not isinstance(parsed, dict):
        return []
    lost = []
    for key, value in sent.items():
        if key.startswith("@odata.") or value is None:
            continue
        if key not in parsed or parsed[key] is None:
            lost.append(f"{where}.{key}")
        else:
            lost += lost_properties(value, parsed[key], f"{where}.{key}")
    return lost


def reserialise(obj: Parsable) -> Any:
    writer = JsonSerializationWriterFactory().get_serialization_writer("application/json")
    writer.write_object_value(None, obj)
    return json.loads(writer.get_serialized_content())


def assert_graph_shaped(model: type[Parsable], body: dict[str, Any]) -> None:
    obj = parse(model, body)
    assert unknown_properties(obj, model.__name__) == []
    assert lost_properties(body, reserialise(obj), model.__name__) == []


# -- the samples: one per served route ---------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    method: str
    pattern: str
    call: Callable[[Tenant], tuple[str, dict[str, str], Any]]  # -> path, query, body
    model: type[Parsable] | None  # None: 204 No Content, or a text/plain count with COUNT headers
    status: int = 200
    headers: dict[str, str] | None = None
    claims: dict[str, Any] | None = None  # None: an app token holding ALL_ROLES


def _app(t: Tenant) -> Any:
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert app is not None
    return app


def _sp(t: Tenant, app_id: str = CONNECTOR_APP_ID) -> Any:
    sp = t.sp_by_app_id(app_id)
    assert sp is not None
    return sp


def _full_access(t: Tenant) -> str:
    return next(a.id for a in t.app_role_assignments.values() if a.app_role_id == FULL_ACCESS_AS_APP)


def _unassigned(t: Tenant) -> tuple[str, dict[str, str], Any]:
    t.delete_app_role_assignment(_full_access(t))
    exo = _sp(t, EXCHANGE_APP_ID)
    body = {"principalId": _sp(t).id, "resourceId": exo.id, "appRoleId": FULL_ACCESS_AS_APP}
    return f"servicePrincipals/{exo.id}/appRoleAssignedTo", {}, body


def _uninstalled(t: Tenant) -> tuple[str, dict[str, str], Any]:
    t.delete_service_principal(_sp(t).id)
    return "servicePrincipals", {}, {"appId": CONNECTOR_APP_ID}


def _all_user_props(t: Tenant) -> dict[str, str]:
    return {"$select": ",".join(user_json(t, t.user(ACCOUNT_UPN)))}


def _member(t: Tenant) -> str:
    """The account, in a nested group and holding a directory role."""
    account = t.user(ACCOUNT_UPN).id
    t.add_group_member(str(t.extras["mfa_group_id"]), account)
    t.assign_directory_role("29232cdf-9323-42fd-ade2-1d097af3e4de", account)
    return account


def _group(t: Tenant) -> tuple[str, dict[str, str], Any]:
    t.groups["g1"] = [t.user(ACCOUNT_UPN).id]
    return "groups/g1/members", {}, None


def _own_licences(t: Tenant) -> dict[str, Any]:
    """A delegated token: user-list-licensedetails-permissions.md says "Application: Not supported."."""
    return {"scp": "LicenseAssignment.Read.All", "oid": t.user(ACCOUNT_UPN).id}


COUNT = {"ConsistencyLevel": "eventual"}  # `/{collection}/$count` needs it (aad-advanced-queries.md)


def _policy(t: Tenant) -> str:
    return next(iter(t.ca_policies))


SAMPLES = [
    Sample("GET", "applications", lambda t: ("applications", {"$filter": f"appId eq '{CONNECTOR_APP_ID}'"},
                                             None), ApplicationCollectionResponse),
    Sample("GET", "applications/{application-id}", lambda t: (f"applications/{_app(t).id}", {}, None),
           Application),
    Sample("GET", "applications(appId='{appId}')",
           lambda t: (f"applications(appId='{CONNECTOR_APP_ID}')", {"$select": "id,keyCredentials"}, None),
           Application),
    Sample("PATCH", "applications/{application-id}",
           lambda t: (f"applications/{_app(t).id}", {}, {"requiredResourceAccess": []}), None),
    Sample("PATCH", "applications(appId='{appId}')",
           lambda t: (f"applications(appId='{CONNECTOR_APP_ID}')", {}, {"displayName": "renamed"}), None),
    Sample("POST", "applications/{application-id}/addPassword",
           lambda t: (f"applications/{_app(t).id}/addPassword", {},
                      {"passwordCredential": {"displayName": "x"}}),
           PasswordCredential),
    Sample("POST", "applications/{application-id}/removePassword",
           lambda t: (f"applications/{_app(t).id}/removePassword", {},
                      {"keyId": _app(t).password_credentials[0].key_id}), None),
    Sample("GET", "servicePrincipals", lambda t: ("servicePrincipals", {}, None),
           ServicePrincipalCollectionResponse),
    Sample("POST", "servicePrincipals", _uninstalled, ServicePrincipal, 201),
    Sample("GET", "servicePrincipals/{servicePrincipal-id}",
           lambda t: (f"servicePrincipals/{_sp(t, EXCHANGE_APP_ID).id}", {}, None), ServicePrincipal),
    Sample("GET", "servicePrincipals(appId='{appId}')",
           lambda t: (f"servicePrincipals(appId='{GRAPH_APP_ID}')", {}, None), ServicePrincipal),
    Sample("DELETE", "servicePrincipals/{servicePrincipal-id}",
           lambda t: (f"servicePrincipals/{_sp(t).id}", {}, None), None),
    Sample("DELETE", "servicePrincipals(appId='{appId}')",
           lambda t: (f"servicePrincipals(appId='{CONNECTOR_APP_ID}')", {}, None), None),
    Sample("GET", "servicePrincipals/{servicePrincipal-id}/appRoleAssignments",
           lambda t: (f"servicePrincipals/{_sp(t).id}/appRoleAssignments", {}, None),
           AppRoleAssignmentCollectionResponse),
    Sample("DELETE", "servicePrincipals/{servicePrincipal-id}/appRoleAssignments/{appRoleAssignment-id}",
           lambda t: (f"servicePrincipals/{_sp(t).id}/appRoleAssignments/{_full_access(t)}", {}, None), None),
    Sample("GET", "servicePrincipals/{servicePrincipal-id}/appRoleAssignedTo",
           lambda t: (f"servicePrincipals/{_sp(t, EXCHANGE_APP_ID).id}/appRoleAssignedTo", {}, None),
           AppRoleAssignmentCollectionResponse),
    Sample("POST", "servicePrincipals/{servicePrincipal-id}/appRoleAssignedTo", _unassigned,
           AppRoleAssignment, 201),
    Sample("DELETE", "servicePrincipals/{servicePrincipal-id}/appRoleAssignedTo/{appRoleAssignment-id}",
           lambda t: (f"servicePrincipals/{_sp(t, EXCHANGE_APP_ID).id}/appRoleAssignedTo/{_full_access(t)}",
                      {}, None), None),
    Sample("GET", "users", lambda t: ("users", _all_user_props(t), None), UserCollectionResponse),
    Sample("GET", "users/{user-id}", lambda t: (f"users/{ACCOUNT_UPN}", _all_user_props(t), None), User),
    Sample("PATCH", "users/{user-id}", lambda t: (f"users/{ACCOUNT_UPN}", {}, {"usageLocation": "GB"}), None),
    Sample("GET", "users/{user-id}/licenseDetails",
           lambda t: (f"users/{ACCOUNT_UPN}/licenseDetails", {}, None), LicenseDetailsCollectionResponse,
           claims=_own_licences(build_contoso(users=2))),
    Sample("GET", "users/$count", lambda t: ("users/$count", {}, None), None, headers=COUNT),
    Sample("GET", "applications/$count", lambda t: ("applications/$count", {}, None), None, headers=COUNT),
    Sample("GET", "servicePrincipals/$count", lambda t: ("servicePrincipals/$count", {}, None), None,
           headers=COUNT),
    # The `(appId='{appId}')` forms of the docs pages (see APPID_FORMS)
    Sample("POST", "applications(appId='{appId}')/addPassword",
           lambda t: (f"applications(appId='{CONNECTOR_APP_ID}')/addPassword", {}, {}), PasswordCredential),
    Sample("GET", "servicePrincipals(appId='{appId}')/appRoleAssignedTo",
           lambda t: (f"servicePrincipals(appId='{EXCHANGE_APP_ID}')/appRoleAssignedTo", {}, None),
           AppRoleAssignmentCollectionResponse),
    Sample("POST", "servicePrincipals(appId='{appId}')/appRoleAssignedTo",
           lambda t: (f"servicePrincipals(appId='{EXCHANGE_APP_ID}')/appRoleAssignedTo",
                      *_unassigned(t)[1:]), AppRoleAssignment, 201),
    Sample("DELETE", "servicePrincipals(appId='{appId}')/appRoleAssignments/{appRoleAssignment-id}",
           lambda t: (f"servicePrincipals(appId='{CONNECTOR_APP_ID}')/appRoleAssignments/{_full_access(t)}",
                      {}, None), None),
    Sample("POST", "users/{user-id}/assignLicense",
           lambda t: (f"users/{ACCOUNT_UPN}/assignLicense", {}, {"addLicenses": [], "removeLicenses": []}),
           User),
    Sample("GET", "groups/{group-id}/members", _group, DirectoryObjectCollectionResponse),
    Sample("GET", "users/{user-id}/transitiveMemberOf",
           lambda t: (f"users/{_member(t)}/transitiveMemberOf", {}, None),
           DirectoryObjectCollectionResponse),
    Sample("GET", "subscribedSkus", lambda t: ("subscribedSkus", {}, None), SubscribedSkuCollectionResponse),
    Sample("GET", "domains", lambda t: ("domains", {}, None), DomainCollectionResponse),
    Sample("GET", "domains/{domain-id}", lambda t: ("domains/contoso.com", {}, None), Domain),
    Sample("GET", "identity/conditionalAccess/policies",
           lambda t: ("identity/conditionalAccess/policies", {}, None),
           ConditionalAccessPolicyCollectionResponse),
    Sample("GET", "identity/conditionalAccess/policies/{conditionalAccessPolicy-id}",
           lambda t: (f"identity/conditionalAccess/policies/{_policy(t)}", {}, None),
           ConditionalAccessPolicy),
    Sample("PATCH", "identity/conditionalAccess/policies/{conditionalAccessPolicy-id}",
           lambda t: (f"identity/conditionalAccess/policies/{_policy(t)}", {},
                      {"conditions": {"users": {"excludeUsers": []}}}), None),
    Sample("GET", "policies/identitySecurityDefaultsEnforcementPolicy",
           lambda t: ("policies/identitySecurityDefaultsEnforcementPolicy", {}, None),
           IdentitySecurityDefaultsEnforcementPolicy),
    Sample("PATCH", "policies/identitySecurityDefaultsEnforcementPolicy",
           lambda t: ("policies/identitySecurityDefaultsEnforcementPolicy", {}, {"isEnabled": True}), None),
    Sample("GET", "sites/{site-id}", lambda t: (f"sites/127.0.0.1:8443:{TARGET_SITE}", {}, None), Site),
    Sample("GET", "users/{user-id}/drive",
           lambda t: ("users/user0001@contoso.onmicrosoft.com/drive", {}, None), Drive),
]
SAMPLES += init_samples(Sample)


def call(method: str, path: str, query: dict[str, str], body: Any, tenant: Tenant | None = None,
         headers: dict[str, str] | None = None, claims: dict[str, Any] | None = None) -> Reply:
    svc = Services(tenant or build_contoso(users=2), TokenService(BASE), BASE)
    return graph.GraphApi(svc).dispatch(method, path, query, body, claims or {"roles": ALL_ROLES}, headers)


def test_every_route_has_a_sample() -> None:
    served = {(r.method, r.pattern) for r in graph.ROUTES}
    sampled = {(s.method, s.pattern) for s in SAMPLES}
    assert served == sampled


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.method} {s.pattern}")
def test_every_answer_uses_graph_property_names(sample: Sample) -> None:
    tenant = build_contoso(users=2)
    path, query, body = sample.call(tenant)
    reply = call(sample.method, path, query, body, tenant, sample.headers, sample.claims)
    if sample.headers == COUNT:  # a text/plain integer, no JSON to check
        assert (reply.status, reply.text is not None and reply.text.isdigit()) == (200, True)
        return
    assert reply.status == (204 if sample.model is None else sample.status), reply.body
    if sample.model is None:
        assert reply.body is None
        return
    assert reply.body is not None
    assert_graph_shaped(sample.model, reply.body)
    if "value" in reply.body:
        assert reply.body["value"], "a collection sample must hold at least one item to be checked"


def test_a_made_up_property_is_caught() -> None:
    tenant = build_contoso(users=2)
    body = call("GET", f"users/{ACCOUNT_UPN}", {}, None, tenant).body
    assert body is not None
    with pytest.raises(AssertionError):
        assert_graph_shaped(User, {**body, "migrationReady": True})
    with pytest.raises(AssertionError):  # a known name with a value of the wrong type is caught too
        assert_graph_shaped(User, {**body, "accountEnabled": {"nested": 1}})


def test_error_and_batch_envelopes_use_graph_names() -> None:
    error = graph.error_reply(GraphError(404, "itemNotFound", "Requested site could not be found"))
    rendered = graph.render(error, new_request_id(), "client-1")
    assert_graph_shaped(ODataError, json.loads(bytes(rendered.body)))
    reply = call("POST", "$batch", {}, {"requests": [{"id": "1", "method": "GET", "url": "/domains"}]})
    assert reply.body is not None
    item = reply.body["responses"][0]
    assert set(item) <= batch_item_properties()


def batch_item_properties() -> set[str]:
    """msgraph-core's BatchResponseItem deserializer keys."""
    source = msgraph_core_source("batch_response_item")
    body = source.split("def get_field_deserializers", 1)[1].split("def serialize", 1)[0]
    return set(re.findall(r'"(\w+)": lambda', body))
