"""Microsoft Graph through msgraph-sdk: one retry layer, the dry-run guard before each write, helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.application import Application
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph_core import GraphClientFactory

from agent import redact
from agent.clients.bodycap import DEFAULT_MAX_BYTES, CappedAsyncTransport
from agent.clients.errors import ReadFailed, translate
from agent.clients.graph_directory import DirectoryOps, Query, config, guid
from agent.clients.graph_json import as_dict, from_dict
from agent.clients.graph_view import GraphObject, views
from agent.clients.timeouts import httpx_timeout, max_response_bytes
from agent.clients.token_cache import AsyncTokenSource
from agent.clients.tokens import graph_scope
from agent.model import Call
from agent.redact import redact_obj
from agent.retry import (
    DEFAULT_POLICY,
    WRITE_POLICY,
    RetryPolicy,
    Sleep,
    async_retrying,
    graph_middleware_options,
)
from agent.trust.ca import ssl_context

if TYPE_CHECKING:
    from pathlib import Path

    from agent.config.model import Tenant
    from agent.guard import WriteGuard

__all__ = ["DirectoryOps", "GraphAdapter", "Query", "as_dict", "from_dict", "graph_base_url", "guid"]

T = TypeVar("T")
Factory = Callable[[], Awaitable[T]]


def graph_base_url(graph_url: str) -> str:
    """The versioned Graph root: a bare host (as the simulator's config gives) gets /v1.0."""
    url = graph_url.rstrip("/")
    return url if urlsplit(url).path not in ("", "/") else f"{url}/v1.0"


def http_client(ca_bundle: Path | str | None, max_connections: int = 64,
                timeout: httpx.Timeout | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES) -> httpx.AsyncClient:
    """The httpx client msgraph runs on: the tenant's CA, a pool sized for concurrent detectors, and no
    response body read past `max_bytes`."""
    context = ssl_context(ca_bundle)  # the default trust plus the tenant's extra CAs
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2)
    # HTTP/1.1 with a sized pool: the pool bounds concurrency predictably (the simulator speaks no h2)
    transport = CappedAsyncTransport(httpx.AsyncHTTPTransport(verify=context, limits=limits, http2=False),
                                     max_bytes)
    return httpx.AsyncClient(transport=transport, timeout=timeout or httpx.Timeout(30.0, connect=10.0))


def _awaiting(fn: Factory[T]) -> Callable[[], Awaitable[T]]:
    """A coroutine function around `fn`: tenacity awaits only what it recognises as one, not lambdas."""

    async def attempt() -> T:
        return await fn()
    return attempt


class GraphAdapter(DirectoryOps):
    """GraphServiceClient for the admin app: reads retried under tenacity, writes checked by the guard."""

    def __init__(self, tenant: Tenant, credential: Any, guard: WriteGuard, *,
                 sleep: Sleep = asyncio.sleep, read_policy: RetryPolicy = DEFAULT_POLICY,
                 write_policy: RetryPolicy = WRITE_POLICY, max_connections: int = 64) -> None:
        self.base_url = graph_base_url(tenant.endpoints.graph_url)
        self.guard = guard
        self._sleep, self._read_policy, self._write_policy = sleep, read_policy, write_policy
        self._http = http_client(tenant.endpoints.ca_bundle, max_connections, httpx_timeout(tenant),
                                 max_response_bytes(tenant))
        # kiota's RetryHandler is switched off: tenacity below is the only retry layer
        middleware_client = GraphClientFactory.create_with_default_middleware(
            client=self._http, options=graph_middleware_options())
        host = urlsplit(self.base_url).hostname or ""
        tokens = credential if isinstance(credential, AsyncTokenSource) else AsyncTokenSource(credential)
        auth = AzureIdentityAuthenticationProvider(cast(Any, tokens), scopes=[graph_scope(tenant)],
                                                   allowed_hosts=[host])  # the token goes to Graph only
        adapter = GraphRequestAdapter(auth, client=middleware_client)
        adapter.base_url = self.base_url  # never httpx's base_url: it doubles the slash
        self.client = GraphServiceClient(request_adapter=adapter)

    async def aclose(self) -> None:
        await self._http.aclose()

    def call(self, method: str, path: str, body: Any = None) -> Call:
        """The Call describing a Graph request, body redacted: for plans, the guard and the journal."""
        return Call(method, f"{self.base_url}/{path.lstrip('/')}", redact_obj(body))

    async def read(self, fn: Factory[T], *, needs: str | None = None) -> T:
        """Run a read under the read retry policy; failures become ReadFailed / Throttled / AuthFailed."""
        try:
            return await async_retrying(self._read_policy, sleep=self._sleep)(_awaiting(fn))
        except Exception as exc:
            raise translate(exc, needs=needs) from None

    async def write(self, call: Call, fn: Factory[T], *, needs: str | None = None) -> T:
        """Ask the guard first (a dry run raises before any byte is sent), then write under retry."""
        self.guard.check(call)
        try:
            return await async_retrying(self._write_policy, sleep=self._sleep)(_awaiting(fn))
        except Exception as exc:
            raise translate(exc, write=True, needs=needs) from None

    async def read_all(self, first: Factory[Any], next_page: Callable[[str], Factory[Any]], *,
                       needs: str | None = None) -> list[Any]:
        """Every item of a paged collection, following @odata.nextLink."""
        page = await self.read(first, needs=needs)
        items = list(page.value or []) if page is not None else []
        while page is not None and page.odata_next_link:
            page = await self.read(next_page(page.odata_next_link), needs=needs)
            items += list(page.value or []) if page is not None else []
        return items

    # -- applications and service principals -------------------------------------------------
    async def get_application(self, app_id: str, select: list[str] | None = None) -> GraphObject | None:
        """The app registration by appId (home tenant only); None when absent."""
        builder = self.client.applications_with_app_id(app_id)
        return await self.read_json(builder, "Application.Read.All", config(select=select))

    async def add_password(self, app_object_id: str, display_name: str, end: datetime) -> PasswordCredential:
        """addPassword; the returned secretText is registered with the redactor before anything else."""
        from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
            AddPasswordPostRequestBody,
        )

        cred = PasswordCredential(display_name=display_name, end_date_time=end)
        body = AddPasswordPostRequestBody(password_credential=cred)
        call = self.call("POST", f"/applications/{app_object_id}/addPassword", as_dict(body))
        item = self.client.applications.by_application_id(app_object_id)
        created = await self.write(call, lambda: item.add_password.post(body),
                                   needs="Application.ReadWrite.All")
        if created is None:
            raise translate(RuntimeError("addPassword returned no credential"), write=True)
        redact.register(created.secret_text)
        return created

    async def remove_password(self, app_object_id: str, key_id: str | UUID) -> None:
        from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
            RemovePasswordPostRequestBody,
        )

        body = RemovePasswordPostRequestBody(key_id=guid(key_id))
        call = self.call("POST", f"/applications/{app_object_id}/removePassword", as_dict(body))
        item = self.client.applications.by_application_id(app_object_id)
        await self.write(call, lambda: item.remove_password.post(body), needs="Application.ReadWrite.All")

    async def patch_key_credentials(self, app_object_id: str, keys: list[dict[str, Any]]) -> None:
        """PATCH keyCredentials: the list REPLACES the app's keys, so pass the existing ones too."""
        from msgraph.generated.models.key_credential import KeyCredential

        body = Application(key_credentials=[from_dict(KeyCredential, k) for k in keys])
        call = self.call("PATCH", f"/applications/{app_object_id}", {"keyCredentials": keys})
        item = self.client.applications.by_application_id(app_object_id)
        await self.write(call, lambda: item.patch(body), needs="Application.ReadWrite.All")

    async def get_service_principal(self, app_id: str, select: list[str] | None = None
                                    ) -> GraphObject | None:
        """The service principal of an appId in this tenant; None when the app is not installed."""
        query = config(filter=f"appId eq '{app_id}'", select=select)
        found = views(await self.read_json_pages(self.client.service_principals, "Application.Read.All",
                                                 query))
        return found[0] if found else None

    async def create_service_principal(self, app_id: str) -> ServicePrincipal:
        body = ServicePrincipal(app_id=app_id)
        call = self.call("POST", "/servicePrincipals", {"appId": app_id})
        created = await self.write(call, lambda: self.client.service_principals.post(body),
                                   needs="Application.ReadWrite.All")
        if created is None:
            raise translate(RuntimeError("servicePrincipals POST returned nothing"), write=True)
        return created

    async def delete_service_principal(self, sp_id: str) -> None:
        call = self.call("DELETE", f"/servicePrincipals/{sp_id}")
        item = self.client.service_principals.by_service_principal_id(sp_id)
        await self.write(call, item.delete, needs="Application.ReadWrite.All")

    async def app_role_assignments(self, sp_id: str) -> list[GraphObject]:
        """The app roles granted TO this service principal (its consented application permissions)."""
        builder = self.client.service_principals.by_service_principal_id(sp_id).app_role_assignments
        return views(await self.read_json_pages(builder, "Application.Read.All"))

    async def grant_app_role(self, resource_sp_id: str, principal_sp_id: str, app_role_id: str
                             ) -> AppRoleAssignment:
        """POST appRoleAssignedTo on the resource SP: admin consent for one application permission."""
        body = AppRoleAssignment(principal_id=guid(principal_sp_id), resource_id=guid(resource_sp_id),
                                 app_role_id=guid(app_role_id))
        call = self.call("POST", f"/servicePrincipals/{resource_sp_id}/appRoleAssignedTo", as_dict(body))
        builder = self.client.service_principals.by_service_principal_id(resource_sp_id).app_role_assigned_to
        created = await self.write(call, lambda: builder.post(body), needs="AppRoleAssignment.ReadWrite.All")
        if created is None:
            raise translate(RuntimeError("appRoleAssignedTo POST returned nothing"), write=True)
        return created

    async def delete_app_role_assignment(self, resource_sp_id: str, assignment_id: str) -> None:
        call = self.call("DELETE", f"/servicePrincipals/{resource_sp_id}/appRoleAssignedTo/{assignment_id}")
        builder = self.client.service_principals.by_service_principal_id(resource_sp_id).app_role_assigned_to
        await self.write(call, builder.by_app_role_assignment_id(assignment_id).delete,
                         needs="AppRoleAssignment.ReadWrite.All")

    # -- internals ------------------------------------------------------------------------------
    async def maybe(self, fn: Factory[T], *, needs: str | None = None) -> T | None:
        """A read where 404 means "absent" (None) rather than a failure."""
        try:
            return await self.read(fn, needs=needs)
        except ReadFailed as exc:
            if exc.status == 404:
                return None
            raise
