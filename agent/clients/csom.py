"""SharePoint tenant CSOM (`_vti_bin/client.svc/ProcessQuery`): Tenant.SetSiteAdmin for many sites at once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from agent.clients.errors import ClientError, WriteFailed, one_line

# Microsoft.Online.SharePoint.TenantAdministration.Tenant
TENANT_TYPE_ID = "{268004ae-ef6b-4e9b-8425-127220d84719}"
PROCESS_QUERY = "_vti_bin/client.svc/ProcessQuery"
CLIENT_QUERY_NS = "http://schemas.microsoft.com/sharepoint/clientquery/2009"
APPLICATION = "m365-401-agent"
MAX_ACTIONS = 300  # sites per request: far below CSOM's own limits, small enough to retry cheaply
_TENANT_PATH_ID = 1
_STATUS_IN_TEXT = re.compile(r"\((\d{3})\)")
# ServerErrorTypeName -> the HTTP status the same failure has over REST, so callers can tell
# "not there" and "throttled" apart from the rest. A missing site collection is SpoNoSiteException from
# the tenant API (FileNotFoundException from a site's own API): both are "site missing".
_STATUS_OF_TYPE = {"System.IO.FileNotFoundException": 404, "System.UnauthorizedAccessException": 403,
                   "Microsoft.Online.SharePoint.Common.SpoNoSiteException": 404}


class QueryFailed(WriteFailed):
    """The whole ProcessQuery failed (header ErrorInfo): CSOM stops at an error outside a scope."""


@dataclass(frozen=True)
class SetSiteAdminQuery:
    """One ProcessQuery body and which exception scope answers for which site."""

    body: bytes
    scopes: dict[int, str]  # scope id -> site URL


def set_site_admin_query(sites: Sequence[str], login: str, value: bool) -> SetSiteAdminQuery:
    """Tenant.SetSiteAdmin(site, login, value) per site, each in its own ExceptionHandlingScopeSimple, so
    one failing site (missing, locked, unavailable) neither stops nor hides the others."""
    if not sites or len(sites) > MAX_ACTIONS:
        raise ValueError(f"a ProcessQuery takes 1 to {MAX_ACTIONS} sites, not {len(sites)}")
    actions, paths, scopes = [], [f'<Constructor Id="{_TENANT_PATH_ID}" TypeId="{TENANT_TYPE_ID}" />'], {}
    flag = "true" if value else "false"
    for index, site in enumerate(sites):
        method, scope, action = 10 + 3 * index, 11 + 3 * index, 12 + 3 * index
        scopes[scope] = site
        actions.append(f'<ExceptionHandlingScopeSimple Id="{scope}"><ObjectPath Id="{action}" '
                       f'ObjectPathId="{method}" /></ExceptionHandlingScopeSimple>')
        paths.append(f'<Method Id="{method}" ParentId="{_TENANT_PATH_ID}" Name="SetSiteAdmin"><Parameters>'
                     f'<Parameter Type="String">{escape(site)}</Parameter>'
                     f'<Parameter Type="String">{escape(login)}</Parameter>'
                     f'<Parameter Type="Boolean">{flag}</Parameter></Parameters></Method>')
    xml = (f'<Request xmlns="{CLIENT_QUERY_NS}" SchemaVersion="15.0.0.0" LibraryVersion="16.0.0.0" '
           f'ApplicationName="{APPLICATION}"><Actions>{"".join(actions)}</Actions>'
           f'<ObjectPaths>{"".join(paths)}</ObjectPaths></Request>')
    return SetSiteAdminQuery(xml.encode("utf-8"), scopes)


def site_outcomes(payload: Any, scopes: dict[int, str]) -> dict[str, ClientError | None]:
    """Each site's result from a ProcessQuery answer: None when it worked, else its error.

    Raises QueryFailed when the header carries ErrorInfo (nothing after the failing action ran) or
    when the answer is not a CSOM response at all.
    """
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], dict):
        raise QueryFailed("ProcessQuery answered with something that is not a CSOM response")
    error = payload[0].get("ErrorInfo")
    if error:
        kind, text = str(error.get("ErrorTypeName") or ""), str(error.get("ErrorMessage") or "")
        raise QueryFailed(f"ProcessQuery failed: {_reason(text, kind)}", _status(kind, text),
                          str(error.get("ErrorCode") or "") or None)
    answers = {payload[i]: payload[i + 1] for i in range(1, len(payload) - 1, 2)
               if isinstance(payload[i], int)}
    results: dict[str, ClientError | None] = {}
    for scope, site in scopes.items():
        answer = answers.get(scope)
        if not isinstance(answer, dict) or "HasException" not in answer:
            results[site] = WriteFailed("ProcessQuery did not answer for this site")
        elif answer["HasException"]:
            kind, text = str(answer.get("ServerErrorTypeName") or ""), str(answer.get("ErrorMessage") or "")
            code = answer.get("ServerErrorCode")
            results[site] = WriteFailed(_reason(text, kind), _status(kind, text),
                                        str(code) if code is not None else None)
        else:
            results[site] = None
    return results


def _status(kind: str, text: str) -> int | None:
    found = _STATUS_IN_TEXT.search(text)
    return int(found.group(1)) if found else _STATUS_OF_TYPE.get(kind)


def _reason(text: Any, kind: Any) -> str:
    message = one_line(str(text or "no error message"))
    return f"{message} ({kind})" if kind else message
