"""SharePoint via office365-rest-python-client: site REST (admins, roles, site creation) and tenant CSOM."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import requests
from office365.sharepoint.request import SharePointRequest

from agent.clients.bodycap import CappedHTTPAdapter
from agent.clients.csom import PROCESS_QUERY, set_site_admin_query, site_outcomes
from agent.clients.errors import ClientError, translate
from agent.clients.sharepoint_types import (
    FULL_CONTROL,
    RoleAssignment,
    SiteStatus,
    SiteUser,
    login_name,
    site_status,
    site_user,
)
from agent.clients.timeouts import max_response_bytes, requests_timeout
from agent.clients.token_cache import CachedCredential
from agent.clients.tokens import sharepoint_scope
from agent.model import Call
from agent.retry import DEFAULT_POLICY, WRITE_POLICY, RetryPolicy, SyncSleep, sync_retrying
from agent.threads import DaemonThreadPoolExecutor
from agent.trust.ca import bundle_path

if TYPE_CHECKING:
    from office365.sharepoint.client_context import ClientContext

    from agent.config.model import Tenant
    from agent.guard import WriteGuard

T = TypeVar("T")
_CONTEXTS_PER_THREAD = 64
_NEEDS = "SharePoint Sites.FullControl.All, certificate token"


class _DropListenerTracebacks(logging.Filter):
    """office365 logs a full traceback for a failed auth/digest hook and then raises it anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Unhandled exception in listener")


_listener_logger = logging.getLogger("office365.runtime.types.event_handler")
if not any(isinstance(f, _DropListenerTracebacks) for f in _listener_logger.filters):
    _listener_logger.addFilter(_DropListenerTracebacks())


class SharePointAdapter:
    """SharePoint REST for the admin app: its certificate token shared by every site, pooled connections.

    Tokens: one AccessToken for {sharepoint_root}/.default, reused across sites until near expiry
    (SharePoint refuses secret-based app-only tokens, so the credential is the certificate one).
    Contexts: one ClientContext per (thread, site), since a context's query queue is not thread-safe.
    Writes ask the guard first. No with_auto_retry(): tenacity is the one retry layer.
    """

    def __init__(self, tenant: Tenant, credential: Any, guard: WriteGuard, *, sleep: SyncSleep = time.sleep,
                 read_policy: RetryPolicy = DEFAULT_POLICY, write_policy: RetryPolicy = WRITE_POLICY,
                 pool_size: int = 64, workers: int = 32) -> None:
        self.tenant, self.guard = tenant, guard
        self.root = (tenant.endpoints.sharepoint_root or "").rstrip("/")
        self.scope = sharepoint_scope(tenant)
        self.tokens = credential if isinstance(credential, CachedCredential) else CachedCredential(credential)
        self._sleep, self._read_policy, self._write_policy = sleep, read_policy, write_policy
        ca = tenant.endpoints.ca_bundle
        # requests re-reads the proxy and CA environment on every call (a quarter of a small request's
        # CPU, which adds up over thousands of sites): read it once here and switch the lookup off.
        env_ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._verify: bool | str = bundle_path(ca) or env_ca or True  # extra CAs add to the default trust
        self.session = requests.Session()
        self.session.verify = self._verify
        self.session.proxies = requests.utils.get_environ_proxies(self.root or "https://localhost")
        self.session.trust_env = False
        adapter = CappedHTTPAdapter(pool_connections=8, pool_maxsize=pool_size, max_retries=0)
        adapter.max_bytes = max_response_bytes(tenant)  # office365 reads every answer whole
        self.session.mount("https://", adapter)
        self._local = threading.local()
        # Own worker threads: asyncio's default pool has only cpu+4, too few for a fleet of sites.
        # daemon threads: one stalled read must not keep the process alive after its report
        self._executor = DaemonThreadPoolExecutor(max_workers=workers, thread_name_prefix="sharepoint")
        self._timeout = requests_timeout(tenant)
        self.threads = workers
        self._csom: Any = None
        self._csom_lock = threading.Lock()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.session.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _token(self) -> dict[str, Any]:
        token = self.tokens.get_token(self.scope)
        return {"access_token": token.token, "token_type": "Bearer",
                "expires_in": max(0, int(token.expires_on - time.time()))}

    def _new_context(self, site_url: str) -> ClientContext:
        """A ClientContext on this adapter's token and HTTP session."""
        # Imported here: its entity model is some 200 modules (a quarter of a second), and the fleet's hot
        # path (rest(), the tenant's CSOM) needs only the request pipeline below it.
        from office365.sharepoint.client_context import ClientContext

        # office365's bundled transport has no read timeout at all: a stalled site would hold its thread
        return ClientContext(site_url).with_access_token(self._token).with_transport(
            session=self.session, verify=self._verify, timeout=self._timeout)

    def _new_request(self, site_url: str) -> SharePointRequest:
        """The pipeline a ClientContext sends through (token, session, timeout, error types), alone."""
        request = SharePointRequest(site_url)
        # the authentication context takes a dict as ClientContext's does; only this annotation is narrower
        request.with_access_token(self._token)  # type: ignore[arg-type]
        request.with_transport(session=self.session, verify=self._verify, timeout=self._timeout)
        return request

    def _rest_request(self, site_url: str) -> SharePointRequest:
        """This thread's pipeline for absolute `_api` URLs: bearer token only, so no form digest."""
        request: SharePointRequest | None = getattr(self._local, "rest", None)
        if request is None:
            # No form digest: requests carrying an OAuth bearer token do not need X-RequestDigest
            # (cli-microsoft365 sends none), and fetching it costs a contextinfo round trip per site.
            request = self._new_request(self.root or site_url)
            request.beforeExecute -= request.ensure_form_digest
            self._local.rest = request
        return request

    def context(self, site_url: str) -> ClientContext:
        """This thread's ClientContext for a site (bearer token only: no contextinfo round trip)."""
        cache: OrderedDict[str, ClientContext] = getattr(self._local, "contexts", None) or OrderedDict()
        self._local.contexts = cache
        key = site_url.rstrip("/")
        ctx = cache.pop(key, None)
        if ctx is None:
            ctx = self._new_context(key)
            # No form digest: requests carrying an OAuth bearer token do not need X-RequestDigest
            # (cli-microsoft365 sends none), and fetching it costs a contextinfo round trip per site.
            request = ctx.pending_request()
            request.beforeExecute -= request.ensure_form_digest
        cache[key] = ctx
        while len(cache) > _CONTEXTS_PER_THREAD:
            cache.popitem(last=False)
        return ctx

    def call(self, method: str, site_url: str, path: str, body: Any = None) -> Call:
        return Call(method, f"{site_url.rstrip('/')}/_api/{path.lstrip('/')}", body)

    async def read(self, fn: Callable[[], T]) -> T:
        """Run a synchronous read in a thread under the read policy; failures become ReadFailed etc."""
        return await self._in_thread(fn, self._read_policy, False)

    async def write(self, call: Call, fn: Callable[[], T]) -> T:
        """Ask the guard (a dry run raises before any request), then write in a thread."""
        self.guard.check(call)
        return await self._in_thread(fn, self._write_policy, True)

    def read_now(self, fn: Callable[[], T]) -> T:
        """read() for code already on one of this adapter's threads (in_pool): same policy, same errors."""
        return self._run(fn, self._read_policy, False)

    async def in_pool(self, fn: Callable[[], None]) -> None:
        """Run `fn` on this adapter's threads: a fleet drains a queue of sites there, one thread per slot,
        instead of one event-loop round trip per site (a third of each small read's CPU)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _in_thread(self, fn: Callable[[], T], policy: RetryPolicy, write: bool) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, fn, policy, write)

    def _run(self, fn: Callable[[], T], policy: RetryPolicy, write: bool) -> T:
        def attempt() -> T:
            try:
                return fn()
            except Exception:
                self._drop_unfinished()
                raise
        try:
            return self._retrying(policy)(attempt)
        except Exception as exc:
            raise translate(exc, write=write, needs=_NEEDS) from None

    def _retrying(self, policy: RetryPolicy) -> Any:
        """This thread's Retrying for `policy`: building one costs ~35 us, a fleet makes thousands of
        calls. Per thread, since its budget clock keeps per-call state; tenacity keeps its own per thread."""
        cache: dict[RetryPolicy, Any] = self._local.__dict__.setdefault("retrying", {})
        retrying = cache.get(policy)
        if retrying is None:
            retrying = cache[policy] = sync_retrying(policy, sleep=self._sleep)
        return retrying

    def _drop_unfinished(self) -> None:
        """A failed query can leave follow-up queries queued on its context; never replay them."""
        cache: OrderedDict[str, ClientContext] = getattr(self._local, "contexts", None) or OrderedDict()
        for key in [k for k, ctx in cache.items() if ctx.has_pending_request]:
            del cache[key]

    # -- plain JSON calls: the fleet's hot path ------------------------------------------------------
    def rest(self, site_url: str, method: str, path: str, body: Any = None) -> Any:
        """One `_api` call through the site's ClientContext pipeline (its token, session and error
        types), answered as odata=nometadata JSON without office365's entity model: for thousands of
        sites that model costs about a third of each call's CPU. MERGE is sent as POST with
        X-HTTP-Method, as SharePoint expects. Synchronous: call it inside read() or write()."""
        from office365.runtime.http.http_method import HttpMethod
        from office365.runtime.http.request_options import RequestOptions

        options = RequestOptions(f"{site_url.rstrip('/')}/_api/{path.lstrip('/')}")
        options.set_header("Accept", "application/json;odata=nometadata")
        if method.upper() != "GET":
            options.method = HttpMethod.Post
            options.set_header("Content-Type", "application/json;odata=nometadata")
            options.data = body if body is not None else {}  # the transport sends it as JSON
        if method.upper() in ("MERGE", "DELETE"):
            options.set_header("X-HTTP-Method", method.upper())
            options.set_header("IF-MATCH", "*")
        # the URL is absolute: the thread's one pipeline carries the same token and session for every site
        response = self._rest_request(site_url).execute_request_direct(options)
        return response.json() if response.content else None

    # -- webs and users -------------------------------------------------------------------------
    async def web(self, site_url: str) -> dict[str, Any]:
        def get() -> dict[str, Any]:
            web = self.context(site_url).web.get().execute_query()
            return {"id": web.id, "title": web.title, "url": web.url}
        return await self.read(get)

    async def site_users(self, site_url: str, admins_only: bool = False) -> list[SiteUser]:
        """The site's user list; with admins_only, its site collection administrators."""
        def get() -> list[SiteUser]:
            users = self.context(site_url).web.site_users
            query = users.filter("IsSiteAdmin eq true") if admins_only else users
            return [site_user(u) for u in query.get().execute_query()]
        return await self.read(get)

    async def site_admins(self, site_url: str) -> list[SiteUser]:
        return await self.site_users(site_url, admins_only=True)

    async def find_user(self, site_url: str, upn_or_login: str) -> SiteUser | None:
        """The site user with this login, read-only (ensure_user would add it)."""
        login = login_name(upn_or_login).lower()
        return next((u for u in await self.site_users(site_url) if u.login_name.lower() == login), None)

    async def ensure_user(self, site_url: str, upn_or_login: str) -> SiteUser:
        """ensureuser: adds the principal to the site's user list when absent (a write)."""
        login = login_name(upn_or_login)
        call = self.call("POST", site_url, "web/ensureuser", {"logonName": login})
        return await self.write(call, lambda: site_user(
            self.context(site_url).web.ensure_user(login).execute_query()))

    async def set_site_admin(self, site_url: str, upn_or_login: str, value: bool) -> SiteUser | None:
        """Make (or unmake) a site collection admin; unsetting someone not on the site does nothing."""
        user = await self.find_user(site_url, upn_or_login)
        if user is None and not value:
            return None
        if user is None:
            user = await self.ensure_user(site_url, upn_or_login)
        if user.is_site_admin == value:
            return user
        call = self.call("MERGE", site_url, f"web/siteusers/getbyid({user.id})", {"IsSiteAdmin": value})

        def merge() -> None:
            entry = self.context(site_url).web.site_users.get_by_id(user.id)
            entry.set_property("IsSiteAdmin", value).update().execute_query()
        await self.write(call, merge)
        user.is_site_admin = value
        return user

    # -- tenant CSOM: one request sets many sites' admins ------------------------------------------
    def _csom_request(self) -> Any:
        """The admin site's request pipeline, shared by every thread: it fetches a form digest from
        contextinfo once and sends it with each ProcessQuery, as cli-microsoft365 does for CSOM."""
        with self._csom_lock:
            if self._csom is None:
                self._csom = self._new_request(self.admin_url)
            return self._csom

    @property
    def admin_url(self) -> str:
        """The tenant admin site (`-admin` host) that serves tenant-level CSOM."""
        admin = self.tenant.endpoints.sharepoint_admin
        if admin is None:
            raise ValueError(f"tenant {self.tenant.name}: endpoints.sharepoint_admin is not set")
        return str(admin).rstrip("/")

    async def set_site_admins(self, sites: Sequence[str], upn_or_login: str,
                              value: bool) -> dict[str, ClientError | None]:
        """Tenant.SetSiteAdmin(site, login, value) on every site in one ProcessQuery; each site's error
        (or None). It needs no access to the sites themselves and adds the user to a site if needed.
        Idempotent, so a throttled or dropped request is simply sent again."""
        login = login_name(upn_or_login)
        query = set_site_admin_query(sites, login, value)
        call = Call("POST", f"{self.admin_url}/{PROCESS_QUERY}",
                    {"method": "Tenant.SetSiteAdmin", "loginName": login, "isSiteAdmin": value,
                     "sites": len(sites)})

        def send() -> dict[str, ClientError | None]:
            from office365.runtime.http.http_method import HttpMethod
            from office365.runtime.http.request_options import RequestOptions

            options = RequestOptions(call.url)
            options.method = HttpMethod.Post
            options.set_header("Content-Type", "text/xml")
            options.set_header("Accept", "application/json")
            options.data = query.body  # bytes: the transport sends it as is, not as JSON
            response = self._csom_request().execute_request_direct(options)
            return site_outcomes(response.json(), query.scopes)

        self.guard.check(call)
        return await self._in_thread(send, replace(self._write_policy, write=False), True)

    # -- permissions ----------------------------------------------------------------------------
    async def role_assignments(self, site_url: str) -> list[RoleAssignment]:
        def get() -> list[RoleAssignment]:
            found = self.context(site_url).web.role_assignments.expand(
                ["Member", "RoleDefinitionBindings"]).get().execute_query()
            return [RoleAssignment(int(ra.principal_id or 0), ra.member.properties.get("LoginName"),
                                   [int(rd.id) for rd in ra.role_definition_bindings]) for ra in found]
        return await self.read(get)

    async def add_role_assignment(self, site_url: str, principal_id: int,
                                  role_def_id: int = FULL_CONTROL) -> None:
        path = f"web/roleassignments/addroleassignment(principalid={principal_id},roledefid={role_def_id})"

        def add() -> None:
            assignments = self.context(site_url).web.role_assignments
            assignments.add_role_assignment(principal_id, role_def_id).execute_query()
        await self.write(self.call("POST", site_url, path), add)

    async def remove_role_assignment(self, site_url: str, principal_id: int,
                                     role_def_id: int = FULL_CONTROL) -> None:
        """Removes that one binding (principal AND role), never all of the principal's roles."""
        path = f"web/roleassignments/removeroleassignment(principalid={principal_id},roledefid={role_def_id})"

        def remove() -> None:
            assignments = self.context(site_url).web.role_assignments
            assignments.remove_role_assignment(principal_id, role_def_id).execute_query()
        await self.write(self.call("POST", site_url, path), remove)

    async def user_permissions(self, site_url: str, upn_or_login: str) -> tuple[int, int]:
        """(High, Low) BasePermissions of a user on the web; FULL_MASK means Full Control."""
        login = login_name(upn_or_login)

        def get() -> tuple[int, int]:
            perms = self.context(site_url).web.get_user_effective_permissions(login).execute_query().value
            return int(perms.High), int(perms.Low)
        return await self.read(get)

    # -- site collections (SPSiteManager on the tenant root) -------------------------------------
    async def create_site(self, url: str, title: str, owner: str, template: str = "STS#3",
                          lcid: int = 1033) -> SiteStatus:
        body = {"request": {"Title": title, "Url": url, "Owner": owner, "Lcid": lcid,
                            "WebTemplate": template}}
        return await self.write(self.call("POST", self.root, "SPSiteManager/create", body),
                                lambda: self._create_site(url, title, owner, template, lcid))

    def _create_site(self, url: str, title: str, owner: str, template: str, lcid: int) -> SiteStatus:
        # site_manager.create() hard-codes a communication-site template; build its query with ours
        from office365.runtime.client_result import ClientResult
        from office365.runtime.queries.service_operation import ServiceOperationQuery
        from office365.sharepoint.portal.sites.creation_request import SPSiteCreationRequest
        from office365.sharepoint.portal.sites.creation_response import SPSiteCreationResponse

        ctx = self.context(self.root)
        result = ClientResult(ctx, SPSiteCreationResponse())
        request = SPSiteCreationRequest(title, url, owner, Lcid=lcid, WebTemplate=template)
        payload = {"request": request}
        ctx.add_query(ServiceOperationQuery(ctx.site_manager, "Create", None, payload, None, result))
        ctx.execute_query()
        return site_status(result.value)

    async def site_status(self, url: str) -> SiteStatus:
        return await self.read(lambda: site_status(
            self.context(self.root).site_manager.get_status(quote(url, safe=":/")).execute_query().value))

    async def delete_site(self, site_id: str) -> None:
        call = self.call("POST", self.root, "SPSiteManager/delete", {"siteId": site_id})
        await self.write(call, lambda: self.context(self.root).site_manager.delete(site_id).execute_query())

