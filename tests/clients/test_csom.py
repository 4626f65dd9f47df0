"""The tenant CSOM body the agent sends and how it reads each site's answer from a ProcessQuery response."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from agent.clients.csom import (
    CLIENT_QUERY_NS,
    MAX_ACTIONS,
    TENANT_TYPE_ID,
    QueryFailed,
    set_site_admin_query,
    site_outcomes,
)

NS = {"q": CLIENT_QUERY_NS}
SITES = ["https://contoso-my.sharepoint.com/personal/a_contoso_com",
         "https://contoso-my.sharepoint.com/personal/b&c_contoso_com"]
LOGIN = "i:0#.f|membership|migsvc@contoso.com"


def header(error: dict[str, object] | None = None) -> dict[str, object]:
    return {"SchemaVersion": "15.0.0.0", "LibraryVersion": "16.0.0.0", "ErrorInfo": error,
            "TraceCorrelationId": "x"}


def test_each_site_is_a_set_site_admin_call_in_its_own_exception_scope() -> None:
    query = set_site_admin_query(SITES, LOGIN, True)
    root = ET.fromstring(query.body)
    [constructor] = root.findall("q:ObjectPaths/q:Constructor", NS)
    assert constructor.get("TypeId") == TENANT_TYPE_ID
    methods = root.findall("q:ObjectPaths/q:Method", NS)
    assert [m.get("Name") for m in methods] == ["SetSiteAdmin"] * 2
    assert all(m.get("ParentId") == constructor.get("Id") for m in methods)
    params = [[(p.get("Type"), p.text) for p in m.findall("q:Parameters/q:Parameter", NS)] for m in methods]
    assert params[1] == [("String", SITES[1]), ("String", LOGIN), ("Boolean", "true")]  # & survives escaping
    scopes = root.findall("q:Actions/q:ExceptionHandlingScopeSimple", NS)
    assert {int(s.get("Id", "0")): s for s in scopes}.keys() == query.scopes.keys()
    for scope, method in zip(scopes, methods, strict=True):
        [action] = list(scope)
        assert action.get("ObjectPathId") == method.get("Id")
        site = method.findall("q:Parameters/q:Parameter", NS)[0].text
        assert query.scopes[int(scope.get("Id", "0"))] == site


def test_revoking_sends_false() -> None:
    root = ET.fromstring(set_site_admin_query(SITES[:1], LOGIN, False).body)
    assert root.findall("q:ObjectPaths/q:Method/q:Parameters/q:Parameter", NS)[2].text == "false"


@pytest.mark.parametrize("count", [0, MAX_ACTIONS + 1])
def test_a_query_has_a_bounded_number_of_sites(count: int) -> None:
    with pytest.raises(ValueError, match="ProcessQuery takes"):
        set_site_admin_query([SITES[0]] * count, LOGIN, True)


def test_each_scope_answers_for_its_own_site() -> None:
    query = set_site_admin_query(SITES, LOGIN, True)
    first, second = sorted(query.scopes)
    payload = [header(), first + 1, {"IsNull": False}, first, {"HasException": False},
               second, {"HasException": True, "ErrorMessage": "File Not Found.",
                        "ServerErrorCode": -2147024894, "ServerErrorValue": None,
                        "ServerErrorTypeName": "System.IO.FileNotFoundException"}]
    outcomes = site_outcomes(payload, query.scopes)
    assert outcomes[SITES[0]] is None
    error = outcomes[SITES[1]]
    assert error is not None and error.status == 404 and error.code == "-2147024894"
    assert "File Not Found." in error.reason and "FileNotFoundException" in error.reason


def test_an_http_status_named_in_the_error_text_is_the_sites_status() -> None:
    query = set_site_admin_query(SITES[:1], LOGIN, True)
    [scope] = query.scopes
    text = "The remote server returned an error: (503) Server Unavailable."
    payload = [header(), scope, {"HasException": True, "ServerErrorTypeName": "System.Net.WebException",
                                 "ErrorMessage": text}]
    error = site_outcomes(payload, query.scopes)[SITES[0]]
    assert error is not None and error.status == 503


def test_a_scope_missing_from_the_answer_is_that_sites_failure() -> None:
    query = set_site_admin_query(SITES, LOGIN, True)
    first = min(query.scopes)
    outcomes = site_outcomes([header(), first, {"HasException": False}], query.scopes)
    failed = outcomes[SITES[1]]
    assert outcomes[SITES[0]] is None and failed is not None and "did not answer" in failed.reason


def test_a_header_error_fails_the_whole_query() -> None:
    query = set_site_admin_query(SITES, LOGIN, True)
    error = {"ErrorMessage": "Access denied. You do not have permission to perform this action or access "
                             "this resource.", "ErrorCode": -2147024891,
             "ErrorTypeName": "System.UnauthorizedAccessException"}
    with pytest.raises(QueryFailed) as caught:
        site_outcomes([header(error)], query.scopes)
    assert caught.value.status == 403 and "Access denied" in caught.value.reason


@pytest.mark.parametrize("payload", [{}, [], ["x"], None])
def test_something_that_is_not_a_csom_answer_is_refused(payload: object) -> None:
    with pytest.raises(QueryFailed, match="not a CSOM response"):
        site_outcomes(payload, {2: SITES[0]})


def test_a_missing_site_from_the_tenant_api_is_404_too() -> None:
    """Tenant.SetSiteAdmin names a missing site SpoNoSiteException (code -1), not FileNotFoundException."""
    query = set_site_admin_query(SITES[:1], LOGIN, True)
    [scope] = query.scopes
    payload = [header(), scope + 1, {"IsNull": False}, scope,
               {"HasException": True, "ErrorMessage": f"Cannot get site {SITES[0]}.", "ServerErrorCode": -1,
                "ServerErrorValue": None,
                "ServerErrorTypeName": "Microsoft.Online.SharePoint.Common.SpoNoSiteException"}]
    error = site_outcomes(payload, query.scopes)[SITES[0]]
    assert error is not None and error.status == 404 and "Cannot get site" in error.reason
