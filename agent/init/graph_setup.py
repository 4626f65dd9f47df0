"""The Graph calls of `agent init` through msgraph-sdk, as the signed-in admin (delegated): the tenant's
organisation and root site, the resource service principals' app roles, and the agent's own app.

Pages: organization-list, site-get (`/sites/root`), user-list-transitivememberof (directoryRole cast),
application-get / application-upsert (`applications(uniqueName='...')`, `Prefer: create-if-missing`),
application-delete, serviceprincipal-post-serviceprincipals, serviceprincipal-post-approleassignedto
(learn.microsoft.com/en-us/graph/api/...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.application import Application

from agent.clients.graph import GraphAdapter, as_dict, from_dict
from agent.clients.graph_directory import config


@dataclass
class OrgInfo:
    """The tenant's name and domains (organization-list)."""

    tenant_id: str
    display_name: str
    initial_domain: str
    domains: list[str]


@dataclass
class ResourceRoles:
    """A resource's service principal in this tenant and its app roles by value."""

    app_id: str
    sp_id: str
    roles: dict[str, str]  # value -> app role id


class SetupGraph:
    """Init's delegated Graph calls; reads retried, writes through the adapter's guard."""

    def __init__(self, adapter: GraphAdapter) -> None:
        self.adapter = adapter
        self.client = adapter.client

    def url(self, path: str) -> str:
        return self.adapter.call("GET", path).url

    async def organization(self) -> OrgInfo:
        page = await self.adapter.read(lambda: self.client.organization.get(
            config(select=["id", "displayName", "verifiedDomains"])), needs="User.Read")
        orgs = list(page.value or []) if page is not None else []
        if not orgs:
            raise LookupError("the tenant answered no organization")
        org = orgs[0]
        domains = [d for d in org.verified_domains or [] if d.name]
        initial = next((d.name for d in domains if d.is_initial), domains[0].name if domains else "")
        return OrgInfo(str(org.id), str(org.display_name or ""), str(initial or ""),
                       [str(d.name) for d in domains])

    async def root_site_url(self) -> str | None:
        site = await self.adapter.maybe(lambda: self.client.sites.by_site_id("root").get(
            config(select=["webUrl", "siteCollection"])), needs="Sites.Read.All")
        return str(site.web_url).rstrip("/") if site is not None and site.web_url else None

    async def my_roles(self) -> frozenset[str]:
        """The admin's directory roles (template ids), when the token carries no `wids`."""
        builder = self.client.me.transitive_member_of.graph_directory_role
        items = await self.adapter.read_all(builder.get, lambda u: builder.with_url(u).get,
                                            needs="Directory.Read.All")
        return frozenset(str(r.role_template_id).lower() for r in items if r.role_template_id)

    async def resource_roles(self, app_id: str) -> ResourceRoles | None:
        sp = await self.adapter.get_service_principal(app_id, select=["id", "appId", "appRoles"])
        if sp is None:
            return None
        roles = {str(r.value): str(r.id) for r in sp.app_roles or []
                 if r.value and "Application" in (r.allowed_member_types or [])}
        return ResourceRoles(app_id, str(sp.id), roles)

    async def app_by_unique_name(self, name: str) -> Application | None:
        builder = self.client.applications_with_unique_name(name)
        return await self.adapter.maybe(builder.get, needs="Application.Read.All")

    async def app_by_app_id(self, app_id: str) -> Application | None:
        return await self.adapter.get_application(app_id)

    async def upsert_app(self, name: str, body: dict[str, Any]) -> Application | None:
        """Create (201, the new object) or update (204, None) the app with this uniqueName."""
        builder = self.client.applications_with_unique_name(name)
        request: RequestConfiguration[Any] = RequestConfiguration()
        request.headers.add("Prefer", "create-if-missing")
        call = self.adapter.call("PATCH", f"/applications(uniqueName='{name}')", body)
        app = from_dict(Application, body)
        return await self.adapter.write(call, lambda: builder.patch(app, request),
                                        needs="Application.ReadWrite.All")

    async def patch_app(self, object_id: str, body: dict[str, Any]) -> None:
        call = self.adapter.call("PATCH", f"/applications/{object_id}", body)
        item = self.client.applications.by_application_id(object_id)
        await self.adapter.write(call, lambda: item.patch(from_dict(Application, body)),
                                 needs="Application.ReadWrite.All")

    async def delete_app(self, object_id: str) -> None:
        call = self.adapter.call("DELETE", f"/applications/{object_id}")
        item = self.client.applications.by_application_id(object_id)
        await self.adapter.write(call, item.delete, needs="Application.ReadWrite.All")


def app_dict(app: Application) -> dict[str, Any]:
    """An Application as Graph JSON (camelCase), for the journal's before/after."""
    return dict(as_dict(app))
