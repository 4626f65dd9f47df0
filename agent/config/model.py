"""The connector configuration: tenants, connectors and secret references, from YAML to typed models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic import ValidationInfo as Info

from agent.config.clouds import CLOUDS, EXCHANGE_HOSTS, GRAPH_HOSTS, CloudName, resource_of
from agent.config.secrets import SecretRef, SecretStore
from agent.errors import ConfigError
from agent.kinds import ConnectorKind
from agent.yamlsrc import Loc, YamlSyntaxError, field_errors, read_yaml, validation_problems

AuthMethod = Literal["oauth", "basic", "ntlm"]

_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{4,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ONMICROSOFT = re.compile(r"([a-z0-9-]+)\.onmicrosoft\.com", re.I)


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL")
    return value.rstrip("/")  # callers join paths with "/"


def _guid(value: str) -> str:
    if not _GUID.fullmatch(value):
        raise ValueError("must be a GUID like 00000000-0000-0000-0000-000000000000")
    return value.lower()


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must be letters, digits, '-', '_' or '.', starting with a letter or digit")
    return value


def _tenant_id(value: str) -> str:
    if not (_GUID.fullmatch(value) or _DOMAIN.fullmatch(value)):
        raise ValueError("must be a domain (contoso.onmicrosoft.com) or a tenant GUID")
    return value


def _config_path(value: Any, info: Info) -> Path:
    """A plain (non-secret) file path; relative paths mean next to the config file."""
    if not isinstance(value, str | Path) or not str(value):
        raise ValueError("must be a file path")
    path = Path(value).expanduser()
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    return path


def _users(value: Any) -> Any:
    if value == "all" or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    if isinstance(value, dict) and set(value) == {"group"} and isinstance(value["group"], str):
        return GroupScope(group=value["group"])
    raise ValueError("must be all, a list of UPNs, or {group: <group id or name>}")


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Guid = Annotated[str, AfterValidator(_guid)]
Name = Annotated[str, AfterValidator(_name)]
ConfigPath = Annotated[Path, BeforeValidator(_config_path)]
ExistingFile = Annotated[Path, BeforeValidator(_config_path), AfterValidator(_existing_file)]


class _Strict(BaseModel):
    # extra="forbid": a typo in a key is an error, not a silently ignored setting.
    # hide_input_in_errors: a ValidationError printed by anyone must not show a pasted secret.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Endpoints(_Strict):
    """Where the tenant's services live: filled from its cloud (agent.config.clouds) unless given singly."""

    cloud: CloudName = "public"
    authority_host: HttpsUrl = CLOUDS["public"].authority_host
    graph_url: HttpsUrl = CLOUDS["public"].graph_url
    sharepoint_root: HttpsUrl | None = None
    sharepoint_admin: HttpsUrl | None = None
    onedrive_host: HttpsUrl | None = None
    ews_url: HttpsUrl = CLOUDS["public"].ews_url
    ca_bundle: ExistingFile | None = None  # PEM file of extra CAs to trust (the simulated tenant's)
    # The token audiences (scope = audience + /.default): the service's own Microsoft host, else the cloud's
    graph_resource: HttpsUrl | None = None
    ews_resource: HttpsUrl | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_cloud(cls, data: Any) -> Any:
        """Endpoints the config leaves out come from its cloud, not from the public cloud."""
        if not isinstance(data, dict) or data.get("cloud") not in CLOUDS:
            return data
        cloud = CLOUDS[data["cloud"]]
        defaults = {"authority_host": cloud.authority_host, "graph_url": cloud.graph_url,
                    "ews_url": cloud.ews_url}
        return {**defaults, **data}

    @model_validator(mode="after")
    def _resources(self) -> Endpoints:
        cloud = CLOUDS[self.cloud]
        if self.graph_resource is None:
            self.graph_resource = resource_of(self.graph_url, GRAPH_HOSTS, cloud.graph)
        if self.ews_resource is None:
            self.ews_resource = resource_of(self.ews_url, EXCHANGE_HOSTS, cloud.exchange)
        return self


AdminAuth = Literal["certificate", "secret", "workload-identity", "managed-identity", "azure-cli", "default"]
NEEDS_REFERENCE = {"certificate": "certificate", "secret": "client_secret"}


class AdminApp(_Strict):
    """The agent's own app registration in the tenant: it reads and fixes.

    `auth` says how it signs in, through azure-identity's own credential classes: a certificate or a
    secret given here, a federated workload identity (Kubernetes, GitHub Actions: the token file in
    $AZURE_FEDERATED_TOKEN_FILE), a managed identity (client_id names a user-assigned one), an Azure CLI
    login, or DefaultAzureCredential's chain. Unset: the certificate when given, else the secret.
    """

    client_id: Guid
    auth: AdminAuth | None = None
    client_secret: SecretRef | None = None
    certificate: SecretRef | None = None  # PEM with private key and certificate

    @model_validator(mode="after")
    def _has_credential(self) -> AdminApp:
        needed = NEEDS_REFERENCE.get(self.auth or "")
        if needed is not None and getattr(self, needed) is None:
            raise field_errors("AdminApp", [((needed,), f"auth: {self.auth} needs {needed}")])
        if self.auth is None and self.client_secret is None and self.certificate is None:
            raise field_errors(
                "AdminApp", [(("client_secret",), "the admin app needs client_secret or certificate, or an "
                                                  "auth: such as workload-identity or managed-identity")]
            )
        return self

    @property
    def method(self) -> str:
        """The sign-in method in force (auth, or what the references imply)."""
        return self.auth or ("certificate" if self.certificate is not None else "secret")


class Timeouts(_Strict):
    """Per-request limits every client library gets: a server that never answers costs at most these."""

    connect_s: Annotated[float, Field(gt=0, le=300)] = 10.0  # TCP and TLS handshake
    read_s: Annotated[float, Field(gt=0, le=600)] = 30.0  # between two bytes of an answer
    # no answer is read past this size: hundreds of MB from a broken proxy would otherwise sit in memory
    max_response_bytes: Annotated[int, Field(ge=1024, le=4 * 1024**3)] = 32 * 1024 * 1024


class Tenant(_Strict):
    """One Microsoft 365 tenant and the agent's credential in it."""

    name: Name
    tenant_id: Annotated[str, AfterValidator(_tenant_id)]
    endpoints: Endpoints = Field(default_factory=Endpoints)
    admin: AdminApp
    timeouts: Timeouts | None = None  # unset: the top-level network: section's

    def location(self) -> dict[str, str]:
        """Which tenant, at which service endpoints: a journal keeps it so that undo can refuse to
        reverse a run's changes in some other tenant that a connector of the same name now points at."""
        found = {"tenant_id": self.tenant_id.lower()}
        derived = {"ca_bundle", "cloud", "graph_resource", "ews_resource"}  # the endpoints say it already
        for key, url in self.endpoints.model_dump(mode="json", exclude=derived).items():
            if url:
                found[key] = str(url).rstrip("/").lower()
        return found

    @model_validator(mode="after")
    def _derive_sharepoint(self) -> Tenant:
        # contoso.onmicrosoft.com -> contoso.sharepoint.com, contoso-admin..., contoso-my...
        match = _ONMICROSOFT.fullmatch(self.tenant_id)
        if match is None:
            return self
        short = match.group(1).lower()
        derived = {
            "sharepoint_root": f"https://{short}.sharepoint.com",
            "sharepoint_admin": f"https://{short}-admin.sharepoint.com",
            "onedrive_host": f"https://{short}-my.sharepoint.com",
        }
        for key, url in derived.items():
            if getattr(self.endpoints, key) is None:
                setattr(self.endpoints, key, url)
        return self


class ConnectorApp(_Strict):
    """The connector's own app credential, as the migration tool holds it."""

    client_id: Guid
    client_secret: SecretRef | None = None
    certificate: SecretRef | None = None  # PEM with private key and certificate
    certificate_public: ConfigPath | None = None  # public certificate (not a secret)
    secret_store: SecretStore | None = None  # where a rotated secret is written
    required_roles: list[str] = Field(default_factory=list)  # app role names or ids
    # vendor: a multi-tenant app another tenant owns (appOwnerOrganizationId); its credential is the vendor's,
    # so checks that would sign in as it say unknown (vendor-held credential)
    owner: Literal["tenant", "vendor"] = "tenant"


class Account(_Strict):
    """The migration (service) account the connector signs in with."""

    username: Annotated[str, Field(min_length=1)]
    password: SecretRef
    auth: AuthMethod = "oauth"  # how the connector authenticates to EWS
    public_client_id: Guid | None = None  # client id for the password-grant probe


class GroupScope(_Strict):
    group: Annotated[str, Field(min_length=1)]


class Scope(_Strict):
    """Which mailboxes/OneDrives and which sites the connector migrates."""

    users: Annotated[Literal["all"] | list[str] | GroupScope, BeforeValidator(_users)] = "all"
    sites: list[HttpsUrl] = Field(default_factory=list)


class TargetSite(_Strict):
    """The site a sharepoint connector writes to, and how to create it if it is missing."""

    url: HttpsUrl
    title: str = "Migration target"
    template: str = "STS#3"
    owner: str | None = None  # defaults to the connector's account
    lcid: int = 1033


class Connector(_Strict):
    """One migration connector: its tenant, kind, credentials and scope."""

    name: Name
    tenant: str
    kind: ConnectorKind
    app: ConnectorApp | None = None
    account: Account | None = None
    ews_url: HttpsUrl | None = None  # overrides the tenant's (on-premises Exchange)
    scope: Scope = Field(default_factory=Scope)
    target_site: TargetSite | None = None

    @model_validator(mode="after")
    def _needs_credentials(self) -> Connector:
        problems: list[tuple[Loc, str]] = []
        if self.kind == "exchange-onprem":
            if self.account is None:
                problems.append((("account",), "an exchange-onprem connector needs an account"))
            if self.ews_url is None:
                problems.append(
                    (("ews_url",), "an exchange-onprem connector needs ews_url (its EWS endpoint)")
                )
        elif self.app is None and self.account is None:
            problems.append((("account",), f"a {self.kind} connector needs an app, an account or both"))
        if self.target_site is not None and self.kind != "sharepoint":
            problems.append((("target_site",), "target_site is only for sharepoint connectors"))
        if problems:
            raise field_errors("Connector", problems)
        return self


class Config(_Strict):
    """The whole configuration file."""

    tenants: Annotated[list[Tenant], Field(min_length=1)]
    connectors: list[Connector]  # required; empty until a connector is found or `agent connectors add`-ed
    state_dir: ConfigPath | None = None
    journal: SecretRef | None = None  # where the shared journal's postgresql:// URL is (journal.connect)
    network: Timeouts = Field(default_factory=Timeouts)  # every tenant's, unless it sets timeouts:

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        for tenant in self.tenants:  # the adapters read one tenant: give each its effective limits
            if tenant.timeouts is None:
                tenant.timeouts = self.network
        problems = _duplicates("tenants", [t.name for t in self.tenants])
        problems += _duplicates("connectors", [c.name for c in self.connectors])
        tenants = {t.name: i for i, t in enumerate(self.tenants)}
        for i, conn in enumerate(self.connectors):
            t = tenants.get(conn.tenant)
            if t is None:
                problems.append(
                    (
                        ("connectors", i, "tenant"),
                        f"unknown tenant '{conn.tenant}'; valid: {', '.join(tenants)}",
                    )
                )
            elif (
                conn.kind in ("onedrive", "sharepoint") and self.tenants[t].endpoints.sharepoint_root is None
            ):
                problems.append(
                    (
                        ("tenants", t, "endpoints", "sharepoint_root"),
                        f"required by {conn.kind} connector '{conn.name}' (set the SharePoint URLs "
                        "when tenant_id is not X.onmicrosoft.com)",
                    )
                )
        if problems:
            raise field_errors("Config", problems)
        return self

    def connector(self, name: str) -> Connector:
        """The connector called `name`; ConfigError lists the valid names."""
        for conn in self.connectors:
            if conn.name == name:
                return conn
        raise ConfigError(f"unknown connector '{name}'; valid: {', '.join(c.name for c in self.connectors)}")

    def tenant_of(self, connector: Connector | str) -> Tenant:
        """The tenant a connector (or connector name) belongs to."""
        conn = self.connector(connector) if isinstance(connector, str) else connector
        return next(t for t in self.tenants if t.name == conn.tenant)  # _cross_check guarantees it

    def ews_url(self, connector: Connector) -> str:
        """The EWS endpoint the connector talks to: its own, else its tenant's."""
        return connector.ews_url or self.tenant_of(connector).endpoints.ews_url


def _duplicates(field: str, names: list[str]) -> list[tuple[Loc, str]]:
    return [
        ((field, i, "name"), f"duplicate name '{name}' (also {field}[{names.index(name)}])")
        for i, name in enumerate(names)
        if name in names[:i]
    ]


def load_config_file(path: str | Path) -> Config:
    """Read and validate a config file; every error is a one-line ConfigError naming file, line and field."""
    path = Path(path)
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise ConfigError(str(exc.problem)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"{path}: cannot read config: {reason}") from None
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping with tenants: and connectors:")
    if doc.duplicate_keys:
        raise ConfigError(str(doc.duplicate_keys[0]))
    try:
        return Config.model_validate(doc.data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        lines = [str(p) for p in validation_problems(exc, doc, Config)]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise ConfigError(lines[0] + more) from None
