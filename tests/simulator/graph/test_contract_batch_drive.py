"""JSON batching (https://learn.microsoft.com/en-us/graph/json-batching) and users' drives
(https://learn.microsoft.com/en-us/graph/api/drive-get) as documented or, where the docs are silent, as
observed (the stricter choice)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.drive.drive_request_builder import DriveRequestBuilder

from agent.simulator import Simulator
from agent.simulator.scenarios.contoso import ACCOUNT_UPN
from agent.simulator.state.tenant import personal_path
from tests.simulator.graph_wire import app_token, https, sdk

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
USER1 = "user0001@contoso.onmicrosoft.com"


@pytest.fixture
def admin(tenant: Simulator) -> Iterator[httpx.Client]:
    roles = ("User.ReadWrite.All", "Domain.Read.All", "Files.Read.All", "Sites.Read.All")
    with https(tenant, app_token(tenant, *roles)) as client:
        yield client


def test_batch_request_with_a_body_and_no_content_type_is_refused(admin: httpx.Client) -> None:
    """json-batching.md: "When a body is included with the request, the headers object must contain a value
    for Content-Type". Observed: the whole batch answers 400 (Softeria/ms-365-mcp-server#683) with the
    wording of microsoftgraph/msgraph-sdk-dotnet#2628; nothing runs."""
    requests = [
        {"id": "1", "method": "GET", "url": "/domains"},
        {"id": "2", "method": "PATCH", "url": f"/users/{ACCOUNT_UPN}", "body": {"usageLocation": "DE"}},
    ]
    answer = admin.post("/$batch", json={"requests": requests})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"
    assert (
        answer.json()["error"]["message"]
        == "Write request id : 2 does not contain Content-Type header or body."
    )
    bodyless = admin.post(
        "/$batch", json={"requests": [{"id": "a", "method": "POST", "url": "/servicePrincipals"}]}
    )
    assert bodyless.status_code == 400


def test_batch_replays_the_docs_shapes(tenant: Simulator, admin: httpx.Client) -> None:
    """The docs' example: ConsistencyLevel in an inner request's headers, a 4xx inner error whose innerError
    carries the caller's client-request-id, and OData-Version plus the full odata content type on a 200."""
    requests = [
        {
            "id": "4",
            "url": f"/users/{ACCOUNT_UPN}",
            "method": "PATCH",
            "body": {"usageLocation": "DE"},
            "headers": {"Content-Type": "application/json"},
        },
        {
            "id": "5",
            "method": "GET",
            "url": "users?$select=id,displayName,userPrincipalName&$count=true",
            "headers": {"ConsistencyLevel": "eventual"},
        },
        {"id": "6", "method": "GET", "url": '/users?$search="displayName:Migration"'},
    ]
    answer = admin.post("/$batch", json={"requests": requests}, headers={"client-request-id": "caller-1"})
    assert answer.status_code == 200
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["4"]["status"] == 204
    five = by_id["5"]
    assert five["status"] == 200 and five["body"]["@odata.count"] == len(tenant.state.users)
    assert five["body"]["@odata.context"].endswith("$metadata#users")
    assert (five["headers"]["OData-Version"], five["headers"]["Content-Type"]) == ("4.0", ODATA_JSON)
    six = by_id["6"]
    assert six["status"] == 400 and six["body"]["error"]["code"] == "Request_UnsupportedQuery"
    assert six["body"]["error"]["innerError"]["client-request-id"] == "caller-1"
    assert six["headers"]["Content-Type"] == "application/json"


def test_drive_web_url_is_the_document_library(tenant: Simulator, admin: httpx.Client) -> None:
    """drive-get.md (webUrl: the drive's URL in a browser); a OneDrive's is `.../personal/{x}/Documents`."""
    drive = admin.get(f"/users/{USER1}/drive")
    assert drive.status_code == 200
    body = drive.json()
    assert body["webUrl"] == f"{tenant.base_url}{personal_path(USER1)}/Documents"
    assert body["id"].startswith("b!") and body["driveType"] == "business"
    assert set(body["owner"]["user"]) == {"id", "displayName"}
    assert body["@odata.context"].endswith("/drive/$entity")


async def test_drive_not_provisioned_shapes_through_the_sdk(tenant: Simulator) -> None:
    """Licensed but no OneDrive yet: 404 ResourceNotFound "User's mysite not found."
    (microsoftgraph/msgraph-sdk-dotnet#579, alcionai/corso#966); no licence: 400 BadRequest "Unable to
    retrieve user's mysite URL." (qkqpttgf/OneManager-php#264)."""
    client = sdk(tenant, app_token(tenant, "Files.Read.All"))
    select = DriveRequestBuilder.DriveRequestBuilderGetQueryParameters(select=["id", "webUrl"])
    state = tenant.state
    site = state.find_site(personal_path(USER1))
    assert site is not None
    site.status = 0
    with pytest.raises(ODataError) as missing:
        await client.users.by_user_id(USER1).drive.get(RequestConfiguration(query_parameters=select))
    assert (missing.value.response_status_code, missing.value.error.code, missing.value.error.message) == (
        404,
        "ResourceNotFound",
        "User's mysite not found.",
    )
    state.assign_license(USER1, [], list(state.user(USER1).licenses))
    with pytest.raises(ODataError) as unlicensed:
        await client.users.by_user_id(USER1).drive.get()
    assert (unlicensed.value.response_status_code, unlicensed.value.error.message) == (
        400,
        "Unable to retrieve user's mysite URL.",
    )
    await client.request_adapter._http_client.aclose()


def test_site_get_replays_the_docs_example(tenant: Simulator, admin: httpx.Client) -> None:
    """site-get.md: `GET /sites/root` -> id `{host},{site guid},{web guid}`, displayName, name, webUrl."""
    site = admin.get("/sites/root")
    assert site.status_code == 200
    body = site.json()
    assert len(body["id"].split(",")) == 3
    assert {"displayName", "name", "webUrl", "createdDateTime"} <= set(body)
    assert body["@odata.context"] == f"{tenant.base_url}/v1.0/$metadata#sites/$entity"
