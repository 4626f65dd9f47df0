"""Graph OData query options as documented: $select names, $search, $count, /$count and $orderby.

Docs followed: https://learn.microsoft.com/en-us/graph/query-parameters,
https://learn.microsoft.com/en-us/graph/aad-advanced-queries and
https://learn.microsoft.com/en-us/graph/search-query-parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from agent.simulator import Simulator
from agent.simulator.graph.schema import PROPERTIES
from agent.simulator.scenarios.contoso import ACCOUNT_UPN, CONNECTOR_APP_ID, TARGET_SITE
from agent.simulator.state.tenant import EXCHANGE_APP_ID, Tenant
from tests.simulator.graph_wire import app_token, https, sdk

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
EVENTUAL = {"ConsistencyLevel": "eventual"}
ROLES = (
    "Application.Read.All",
    "User.Read.All",
    "Organization.Read.All",
    "Domain.Read.All",
    "GroupMember.Read.All",
    "Sites.Read.All",
    "Files.Read.All",
)


@pytest.fixture
def graph(tenant: Simulator) -> Iterator[httpx.Client]:
    with https(tenant, app_token(tenant, *ROLES)) as client:
        yield client


def _typed_paths(t: Tenant) -> list[tuple[str, str]]:
    """(path, entity type) for every GET the simulator serves outside Conditional Access."""
    exo = t.sp_by_app_id(EXCHANGE_APP_ID)
    app = t.application_by_app_id(CONNECTOR_APP_ID)
    assert exo is not None and app is not None
    t.groups["g1"] = [t.user(ACCOUNT_UPN).id]
    return [
        ("users", "user"),
        (f"users/{ACCOUNT_UPN}", "user"),
        ("applications", "application"),
        (f"applications/{app.id}", "application"),
        (f"applications(appId='{CONNECTOR_APP_ID}')", "application"),
        ("servicePrincipals", "servicePrincipal"),
        (f"servicePrincipals/{exo.id}", "servicePrincipal"),
        (f"servicePrincipals(appId='{EXCHANGE_APP_ID}')", "servicePrincipal"),
        (f"servicePrincipals/{exo.id}/appRoleAssignedTo", "appRoleAssignment"),
        (f"servicePrincipals/{exo.id}/appRoleAssignments", "appRoleAssignment"),
        ("groups/g1/members", "directoryObject"),
        ("subscribedSkus", "subscribedSku"),
        ("domains", "domain"),
        ("domains/contoso.com", "domain"),
        (f"sites/127.0.0.1:{TARGET_SITE}", "site"),
        ("users/user0001@contoso.onmicrosoft.com/drive", "drive"),
    ]


def test_an_unknown_select_property_is_400_on_every_typed_get(tenant: Simulator, graph: httpx.Client) -> None:
    """query-parameters.md ($select): a name the type lacks is refused, on lists and single entities."""
    for path, entity in _typed_paths(tenant.state):
        answer = graph.get(f"/{path}", params={"$select": "id,noSuchPropertyXyz"})
        assert answer.status_code == 400, path
        error = answer.json()["error"]
        assert error["code"] == "Request_BadRequest"
        assert error["message"] == (
            f"Could not find a property named 'noSuchPropertyXyz' on type 'microsoft.graph.{entity}'."
        )
        assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
        assert graph.get(f"/{path}", params={"$select": "id"}).status_code == 200, path


def test_select_names_are_case_insensitive_and_every_catalogued_name_is_accepted(graph: httpx.Client) -> None:
    assert graph.get(f"/users/{ACCOUNT_UPN}", params={"$select": "ID,DisplayName"}).status_code == 200
    every = ",".join(sorted(PROPERTIES["user"]))
    assert graph.get(f"/users/{ACCOUNT_UPN}", params={"$select": every}).status_code == 200


def test_the_catalogued_names_are_graph_v1_properties() -> None:
    """The $select catalogue holds only names msgraph-sdk's v1.0 models have (so no made-up property)."""
    from msgraph.generated.models.drive import Drive
    from msgraph.generated.models.user import User

    for entity, model in (("user", User), ("drive", Drive)):
        assert PROPERTIES[entity] == {k for k in model().get_field_deserializers() if not k.startswith("@")}


async def test_the_sdk_select_the_agent_sends_is_accepted_and_a_typo_is_refused(tenant: Simulator) -> None:
    """The catalog's $select lists (bad_credentials.py, account_unlicensed.py) go through msgraph-sdk."""
    client = sdk(tenant, app_token(tenant, "User.Read.All"))
    users = client.users.by_user_id(ACCOUNT_UPN)
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters
    good = [
        "id",
        "userPrincipalName",
        "accountEnabled",
        "passwordPolicies",
        "lastPasswordChangeDateTime",
        "userType",
        "onPremisesSyncEnabled",
        "assignedLicenses",
        "assignedPlans",
        "usageLocation",
    ]
    user = await users.get(RequestConfiguration(query_parameters=query(select=good)))
    assert user is not None and user.account_enabled is True
    with pytest.raises(ODataError) as caught:
        await users.get(RequestConfiguration(query_parameters=query(select=["id", "acountEnabled"])))
    assert (caught.value.response_status_code, caught.value.error.code) == (400, "Request_BadRequest")
    await client.request_adapter._http_client.aclose()


def test_search_without_consistency_level_is_400(graph: httpx.Client) -> None:
    """aad-advanced-queries.md: "$search works only in advanced queries" -> the documented error body."""
    for path in ("users", "applications", "servicePrincipals"):
        answer = graph.get(f"/{path}", params={"$search": '"displayName:user"'})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "Request_UnsupportedQuery"
        assert answer.json()["error"]["message"] == (
            "Request with $search query parameter only works through MSGraph with a special request "
            "header: 'ConsistencyLevel: eventual'"
        )


def _names(answer: httpx.Response, prop: str = "displayName") -> list[Any]:
    assert answer.status_code == 200, answer.text
    return [item.get(prop) for item in answer.json()["value"]]


def test_search_matches_tokens_by_prefix_on_display_name_mail_and_upn(graph: httpx.Client) -> None:
    """search-query-parameter.md: `"property:value"` clauses; values match word starts; OR joins clauses."""
    found = _names(graph.get("/users", params={"$search": '"displayName:Migration"'}, headers=EVENTUAL))
    assert found == ["Migration Service"]
    found = _names(graph.get("/users", params={"$search": '"displayName:serv"'}, headers=EVENTUAL))
    assert found == ["Migration Service"]  # the second word's start matches too
    by_mail = _names(
        graph.get("/users", params={"$search": '"mail:migsvc"', "$select": "mail"}, headers=EVENTUAL), "mail"
    )
    assert by_mail == [ACCOUNT_UPN]
    either = graph.get(
        "/users",
        params={
            "$search": '"userPrincipalName:alice" OR "userPrincipalName:bob"',
            "$select": "userPrincipalName",
        },
        headers=EVENTUAL,
    )
    assert sorted(u.split("@")[0] for u in _names(either, "userPrincipalName")) == ["alice", "bob"]
    apps = _names(
        graph.get("/servicePrincipals", params={"$search": '"displayName:Exchange"'}, headers=EVENTUAL)
    )
    assert apps and all("exchange" in n.lower() for n in apps)


def test_search_on_an_unsearchable_property_or_without_a_property_is_400(graph: httpx.Client) -> None:
    for search in ('"accountEnabled:true"', '"migration"', "displayName:x"):
        answer = graph.get("/users", params={"$search": search}, headers=EVENTUAL)
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "Request_UnsupportedQuery"), (
            search
        )


def test_count_true_gives_odata_count_only_with_the_header(tenant: Simulator, graph: httpx.Client) -> None:
    """aad-advanced-queries.md: without ConsistencyLevel "$count=true" is silently ignored."""
    counted = graph.get("/users", params={"$count": "true", "$top": "5"}, headers=EVENTUAL)
    assert counted.status_code == 200 and counted.json()["@odata.count"] == len(tenant.state.users)
    assert len(counted.json()["value"]) == 5 and "@odata.nextLink" in counted.json()
    plain = graph.get("/users", params={"$count": "true", "$top": "5"})
    assert plain.status_code == 200 and "@odata.count" not in plain.json()
    filtered = graph.get(
        "/applications",
        params={"$count": "true", "$filter": f"appId eq '{CONNECTOR_APP_ID}'"},
        headers=EVENTUAL,
    )
    assert filtered.json()["@odata.count"] == 1


def test_the_count_segment_is_text_and_needs_the_header(tenant: Simulator, graph: httpx.Client) -> None:
    """user-list.md "Get only a count of users" (text/plain), and the 400 of aad-advanced-queries.md."""
    counted = graph.get("/users/$count", headers=EVENTUAL)
    assert counted.status_code == 200 and counted.headers["content-type"].startswith("text/plain")
    assert counted.text == str(len(tenant.state.users))
    refused = graph.get("/users/$count")
    assert refused.status_code == 400
    assert (refused.json()["error"]["code"], refused.json()["error"]["message"]) == (
        "Request_BadRequest",
        "$count is not currently supported.",
    )
    apps = graph.get("/applications/$count", headers=EVENTUAL)
    assert apps.text == str(len(tenant.state.applications))


def test_orderby_where_supported_and_refused_elsewhere(graph: httpx.Client) -> None:
    """aad-advanced-queries.md, "Support for sorting": users by displayName/userPrincipalName by default;
    applications and servicePrincipals only in advanced queries; $filter with $orderby only in advanced
    queries; any other property -> 400 Request_UnsupportedQuery."""
    names = _names(graph.get("/users", params={"$orderby": "displayName", "$top": "999"}))
    assert names == sorted(names, key=lambda n: (n is None, str(n or "").lower()))
    desc = _names(
        graph.get("/users", params={"$orderby": "userPrincipalName desc", "$select": "userPrincipalName"}),
        "userPrincipalName",
    )
    assert desc == sorted(desc, key=str.lower, reverse=True)
    unsupported = graph.get("/users", params={"$orderby": "jobTitle"})
    assert (unsupported.status_code, unsupported.json()["error"]) == (
        400,
        {
            **unsupported.json()["error"],
            "code": "Request_UnsupportedQuery",
            "message": "Unsupported sort property 'jobTitle' for 'User'.",
        },
    )
    assert graph.get("/applications", params={"$orderby": "displayName"}).status_code == 400
    advanced = graph.get(
        "/applications", params={"$orderby": "displayName", "$count": "true"}, headers=EVENTUAL
    )
    assert advanced.status_code == 200
    both = graph.get(
        "/users", params={"$orderby": "displayName", "$filter": "startswith(displayName,'User')"}
    )
    assert (both.status_code, both.json()["error"]["message"]) == (
        400,
        "Sorting not supported for current query.",
    )
    assert graph.get("/domains", params={"$orderby": "id"}).status_code == 400


def test_single_entities_and_creates_carry_their_odata_context(
    tenant: Simulator, graph: httpx.Client
) -> None:
    """user-get.md example 3 and serviceprincipal-post-approleassignedto.md: `$metadata#...$entity`."""
    base = f"{tenant.base_url}/v1.0/$metadata#"
    user = graph.get(f"/users/{ACCOUNT_UPN}", params={"$select": "displayName,mail"}).json()
    assert user["@odata.context"] == base + "users(displayName,mail)/$entity"
    assert graph.get("/domains/contoso.com").json()["@odata.context"] == base + "domains/$entity"
