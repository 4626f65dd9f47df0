"""Graph helpers for users, licences, domains, Conditional Access, sites and drives; model <-> JSON."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from kiota_abstractions.base_request_configuration import RequestConfiguration

from agent import redact
from agent.clients.graph_json import from_dict
from agent.clients.graph_view import GraphObject, views

if TYPE_CHECKING:
    from kiota_abstractions.serialization import Parsable
    from msgraph import GraphServiceClient

    from agent.model import Call

T = TypeVar("T")
P = TypeVar("P", bound="Parsable")
Factory = Callable[[], Awaitable[T]]
_QUERY_NAMES = {"select": "%24select", "filter": "%24filter", "top": "%24top", "expand": "%24expand"}


@dataclass
class Query:
    """OData query options for any request builder (kiota reads any dataclass with these names)."""

    select: list[str] | None = None
    filter: str | None = None
    top: int | None = None
    expand: list[str] | None = None

    def get_query_parameter(self, name: str) -> str:
        return _QUERY_NAMES.get(name, name)


def config(**query: Any) -> Any:
    """A request configuration with OData options; typed Any because every builder wants its own class."""
    return RequestConfiguration(query_parameters=Query(**query))




def guid(value: str | UUID) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class DirectoryOps:
    """Users, licences, domains, policies, sites and drives; mixed into GraphAdapter."""

    client: GraphServiceClient

    if TYPE_CHECKING:  # provided by GraphAdapter
        def call(self, method: str, path: str, body: Any = None) -> Call: ...
        async def read(self, fn: Factory[T], *, needs: str | None = None) -> T: ...
        async def write(self, call: Call, fn: Factory[T], *, needs: str | None = None) -> T: ...
        async def read_all(self, first: Factory[Any], next_page: Callable[[str], Factory[Any]], *,
                           needs: str | None = None) -> list[Any]: ...
        async def maybe(self, fn: Factory[T], *, needs: str | None = None) -> T | None: ...

    # -- users ------------------------------------------------------------------------------------
    async def get_user(self, user: str, select: list[str] | None = None) -> GraphObject | None:
        """A user by id or UPN; None when there is no such user."""
        builder = self.client.users.by_user_id(user)
        return await self.read_json(builder, "User.Read.All", config(select=select))

    async def list_users(self, select: list[str] | None = None,
                         filter: str | None = None) -> list[GraphObject]:
        """Every user (all pages)."""
        query = config(select=select, filter=filter, top=999)
        return views(await self.read_json_pages(self.client.users, "User.Read.All", query))

    async def user_principal_names(self, group_id: str | None = None) -> list[str]:
        """The UPN of every user (or of every user member of a group), from raw JSON pages.

        For thousands of users this skips msgraph's models: kiota builds ~150 field deserializers for
        each User it parses (about 10 ms apiece), far longer than the requests themselves take.
        """
        if group_id is None:
            builder: Any = self.client.users
            query: dict[str, Any] = {"select": ["id", "userPrincipalName"], "top": 999}
        else:
            builder, query = self.client.groups.by_group_id(group_id).members, {"top": 999}
        needs = "User.Read.All" if group_id is None else "GroupMember.Read.All"
        items = await self.read_json_pages(builder, needs, config(**query))
        return [str(i["userPrincipalName"]) for i in items if i.get("userPrincipalName")]

    async def read_json(self, builder: Any, needs: str, request_config: Any = None, *,
                        absent_ok: bool = True) -> GraphObject | None:
        """One Graph object as JSON (agent.clients.graph_view), through the SDK's own request pipeline;
        None for a 404 when `absent_ok` (errors as ODataError, as the typed read raises them)."""
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        info = builder.to_get_request_information(request_config)
        send = functools.partial(self.client.request_adapter.send_primitive_async, info, "bytes",
                                 {"XXX": ODataError})
        raw = await (self.maybe(send, needs=needs) if absent_ok else self.read(send, needs=needs))
        data = json.loads(raw) if raw else None
        return GraphObject(data) if isinstance(data, dict) else None

    async def read_json_pages(self, builder: Any, needs: str,
                              request_config: Any = None) -> list[dict[str, Any]]:
        """Every item of a collection as plain JSON, following @odata.nextLink (errors as ODataError)."""
        from msgraph.generated.models.o_data_errors.o_data_error import ODataError

        adapter = self.client.request_adapter
        errors: dict[str, Any] = {"XXX": ODataError}
        info = builder.to_get_request_information(request_config)
        items: list[dict[str, Any]] = []
        while True:
            raw = await self.read(functools.partial(adapter.send_primitive_async, info, "bytes", errors),
                                  needs=needs)
            page = json.loads(raw or b"{}")
            items += page.get("value") or []
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return items
            info = builder.with_url(next_link).to_get_request_information()

    async def group_members(self, group_id: str) -> list[GraphObject]:
        return views(await self.read_json_pages(self.client.groups.by_group_id(group_id).members,
                                                "GroupMember.Read.All"))

    async def memberships(self, user: str) -> list[GraphObject]:
        """The user's groups and directory roles, direct and transitive (all pages).

        User.Read.All suffices (user-list-transitivememberof.md); without a group or role read permission
        Graph returns those objects with their type and id only, so a role's roleTemplateId needs
        RoleManagement.Read.Directory (https://learn.microsoft.com/en-us/graph/permissions-overview
        #limited-information-returned-for-inaccessible-member-objects).
        """
        builder = self.client.users.by_user_id(user).transitive_member_of
        return views(await self.read_json_pages(builder, "User.Read.All"))

    async def assign_license(self, user: str, add: list[str], remove: list[str]) -> None:
        """assignLicense; removeLicenses is always sent, even empty (Graph rejects it missing)."""
        from msgraph.generated.models.assigned_license import AssignedLicense
        from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
            AssignLicensePostRequestBody,
        )

        body = AssignLicensePostRequestBody(
            add_licenses=[AssignedLicense(sku_id=guid(s), disabled_plans=[]) for s in add],
            remove_licenses=[guid(s) for s in remove])
        wire = {"addLicenses": [{"skuId": s, "disabledPlans": []} for s in add], "removeLicenses": remove}
        builder = self.client.users.by_user_id(user).assign_license
        await self.write(self.call("POST", f"/users/{user}/assignLicense", wire), lambda: builder.post(body),
                         needs="LicenseAssignment.ReadWrite.All")

    async def patch_user(self, user: str, changes: dict[str, Any]) -> None:
        """PATCH /users/{id} with Graph JSON names (accountEnabled, usageLocation, passwordProfile ...)."""
        password = (changes.get("passwordProfile") or {}).get("password")
        redact.register(password)  # the new password must not show up in any later output
        from msgraph.generated.models.user import User

        body = from_dict(User, changes)
        nulls = {key: None for key, value in changes.items() if value is None}
        if nulls:  # kiota skips None fields; an undo restoring "unset" (usageLocation) must send null
            body.additional_data = {**(body.additional_data or {}), **nulls}
        builder = self.client.users.by_user_id(user)
        needs = "User-PasswordProfile.ReadWrite.All" if "passwordProfile" in changes else "User.ReadWrite.All"
        call = self.call("PATCH", f"/users/{user}", changes)
        await self.write(call, lambda: builder.patch(body), needs=needs)

    async def subscribed_skus(self) -> list[GraphObject]:
        return views(await self.read_json_pages(self.client.subscribed_skus, "Organization.Read.All"))

    async def get_domain(self, name: str) -> GraphObject | None:
        return await self.read_json(self.client.domains.by_domain_id(name), "Domain.Read.All")

    # -- Conditional Access and security defaults ---------------------------------------------------
    async def ca_policies(self) -> list[GraphObject]:
        builder = self.client.identity.conditional_access.policies
        return views(await self.read_json_pages(builder, "Policy.Read.All"))

    async def get_ca_policy(self, policy_id: str) -> GraphObject | None:
        builder = self.client.identity.conditional_access.policies.by_conditional_access_policy_id(policy_id)
        return await self.read_json(builder, "Policy.Read.All")

    async def set_ca_excluded_users(self, policy_id: str, exclude_users: list[str]) -> None:
        """PATCH conditions.users.excludeUsers; the list REPLACES the old one, so merge before calling."""
        from msgraph.generated.models.conditional_access_policy import ConditionalAccessPolicy

        wire = {"conditions": {"users": {"excludeUsers": list(exclude_users)}}}
        body = from_dict(ConditionalAccessPolicy, wire)
        builder = self.client.identity.conditional_access.policies.by_conditional_access_policy_id(policy_id)
        call = self.call("PATCH", f"/identity/conditionalAccess/policies/{policy_id}", wire)
        await self.write(call, lambda: builder.patch(body), needs="Policy.ReadWrite.ConditionalAccess")

    async def security_defaults(self) -> GraphObject | None:
        builder = self.client.policies.identity_security_defaults_enforcement_policy
        return await self.read_json(builder, "Policy.Read.All", absent_ok=False)

    # -- SharePoint through Graph -----------------------------------------------------------------
    async def get_site_by_path(self, hostname: str, path: str) -> GraphObject | None:
        """GET /sites/{hostname}:/{server-relative path}; None when the site does not exist (404)."""
        builder = self.client.sites.by_site_id("root")  # only for its adapter: the URL is set raw,
        # because kiota would percent-encode the ':' and '/' of a path-addressed site id
        raw = f"{builder.request_adapter.base_url}/sites/{hostname}:/{path.strip('/')}"
        return await self.read_json(builder.with_url(raw), "Sites.Read.All")

    async def get_site_by_url(self, url: str) -> GraphObject | None:
        """The site collection at an absolute URL (https://contoso.sharepoint.com/sites/x); None if absent."""
        parts = urlsplit(url)
        return await self.get_site_by_path(parts.hostname or "", parts.path)

    async def get_user_drive(self, user: str) -> GraphObject | None:
        """The user's OneDrive; None when it is not provisioned (404)."""
        builder = self.client.users.by_user_id(user).drive
        return await self.read_json(builder, "Files.Read.All", config(select=["id", "webUrl", "owner"]))
