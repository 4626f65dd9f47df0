"""What an error text carries in structured form: error codes, HTTP statuses, headers, exception names."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote_plus

from agent.explain.literals import may_match
from agent.redact import redact

MAX_FRAGMENT = 120  # evidence quotes at most this much of the input

# Escapes of JSON or a repr() nested in a log line; undone so phrases match across them.
_ESCAPES = (("\\r\\n", "\n"), ("\\n", "\n"), ("\\r", "\n"), ("\\t", " "), ('\\"', '"'), ("\\'", "'"),
            ("\\/", "/"))
_URL_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}|\w\+\w+\+\w")

_AADSTS = re.compile(r"\bAADSTS(\d{4,7})\b", re.I)
_ERROR_CODES = re.compile(r"error_?codes[\"']?\s*[:=]\s*\[([\d,\s]+)\]", re.I)
# "code": "X" / code='X' / "error": "invalid_client" / <m:ResponseCode>X</m:ResponseCode> / ErrorCode: X
_CODE_PATTERNS = (
    re.compile(r"\b(?:code|error|error_?code|suberror|responsecode)[\"']?\s*[:=]\s*"
               r"[\"']([^\"'\n]{2,80})[\"']", re.I),
    re.compile(r"<(?:\w+:)?(?:ResponseCode|faultcode|code)>\s*(?:\w+:)?([^<]{2,80}?)\s*</", re.I),
    re.compile(r"\b(?:Error ?Code|Code)\s*:\s*([A-Za-z_][\w.]{2,60})"),
)
_STATUS_PATTERNS = (
    re.compile(r"\((\d{3})\)\s*[A-Z]"),  # .NET WebException: (401) Unauthorized
    re.compile(r"\bHTTP/\d(?:\.\d)?\s+(\d{3})\b"),  # a status line
    re.compile(r"\b(?:HTTP(?: error)?|status(?:[ _]?code)?|reply status code was)"
               r"[\"']?\s*[:=]?\s*[\"']?(\d{3})\b", re.I),
    re.compile(r"\b(\d{3})\s*[-:(]?\s*(?:Unauthorized|Forbidden|Not Found|Too Many Requests|Bad Request|"
               r"Client Error|Server Error|Service Unavailable|Proxy Authentication Required|"
               r"Internal Server Error)\b", re.I),  # also "401 (Unauthorized)" (.NET HttpClient), "401 - ..."
    re.compile(r"\b(?:error|returned|response|code)\s+(4\d\d|5\d\d)\b", re.I),  # "Error 401", "returned 403"
    # the reason phrase first, the number after it in brackets: "Forbidden (403)", "Unauthorized(401)" (PnP
    # PowerShell and Graph PowerShell print "Forbidden (403): ..."; prose writes "is forbidden(403)")
    re.compile(r"\b(?:Unauthorized|Forbidden|Not Found|Too Many Requests|Bad Request|Service Unavailable|"
               r"Internal Server Error)\s*\((\d{3})\)", re.I),
    # .NET Framework leaves the reason out for statuses it has no name for: "returned an error: (429)."
    re.compile(r"\breturned an error:\s*\((\d{3})\)", re.I),
    re.compile(r"\b(\d{3}), message=", re.I),  # aiohttp ClientResponseError: 429, message='Too Many Requests'
    re.compile(r"\btoo many (\d{3}) error responses\b", re.I),  # urllib3's retries ran out on this status
    # Kiota's request adapters (the Graph SDKs' runtime) for a status no error mapping covers:
    # "... no error factory is registered for this code: 401", "... with no response body: 401"
    re.compile(r"\b(?:registered for this code|with no response body):\s*(\d{3})\b", re.I),
    # Kiota for Python (msgraph-sdk's runtime) before 1.16 printed its APIError as "APIError / Code: 401 /
    # message: ..." (kiota_abstractions/api_error.py); 1.16 writes "... (status 401)", read above
    re.compile(r"\bAPIError\s+Code:\s*(\d{3})\b"),
    # the JDK's HttpURLConnection (sun.net.www.protocol.http.HttpURLConnection in openjdk/jdk) throws
    # IOException("Server returned HTTP response code: 403 for URL: ...") for every status of 400 and more
    re.compile(r"\bHTTP response code:\s*(\d{3})\b", re.I),
)
# A status said in words where no number is given: SharePoint, EWS and Graph answer "access denied" with 403
# (SharePoint's UnauthorizedAccessException, 0x80070005 E_ACCESSDENIED, EWS/Graph ErrorAccessDenied); the word
# "Unauthorized" alone is 401 (RFC 9110's reason phrase), but SharePoint's "unauthorized operation" is 403.
# A local "access to the path ... is denied" is neither. Counted only in a context (service + status).
_WORDED_STATUSES = (
    (re.compile(r"\baccess (?:is )?denied\b|unauthorizedaccessexception|e_accessdenied|0x80070005|"
                r"\berroraccessdenied\b|status code is [\"']?forbidden|"
                # UnauthorizedAccessException's default message:
                # https://learn.microsoft.com/en-us/dotnet/api/system.unauthorizedaccessexception
                r"attempted to perform an unauthorized operation"), 403),
    (re.compile(r"\bunauthori[sz]ed\b(?! operation| access)"), 401),  # not SharePoint's 403 wording
)
_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Error|Exception|Fault))\b")  # module prefix not needed
_WORD = re.compile(r"[\w-]+")

# Which service a text talks to, from host names, endpoint paths and vocabulary only that service uses.
# Hosts: https://learn.microsoft.com/en-us/microsoft-365/enterprise/urls-and-ip-address-ranges
# IMAP and POP clients and their protocol names: they reach a mailbox, and sign in with a password (below)
_IMAP_POP = ("imaplib", "imap_tools", "imapclient", "imap4", " imap ", "pop3", "poplib")
SERVICE_MARKS: dict[str, tuple[str, ...]] = {
    "identity": ("login.microsoftonline.com", "login.windows.net", "login.microsoftonline.us",
                 "login.partner.microsoftonline.cn", "/oauth2/", "aadsts", "msal", "adal", "token endpoint",
                 "get_token", "acquiretoken", "clientauthenticationerror", "invalid_grant", "invalid_client"),
    # graph.windows.net is Azure AD Graph, the directory API Microsoft Graph replaced, with the same directory
    # objects, permissions and odata.error codes:
    # https://learn.microsoft.com/en-us/graph/migrate-azure-ad-graph-overview
    "graph": ("graph.microsoft.com", "graph.microsoft.us", "microsoftgraph.chinacloudapi.cn", "/v1.0/",
              "graph.windows.net", "/beta/", "msgraph", "odataerror", "graph api",
              "innererror", "client-request-id",  # Graph's error body: https://learn.microsoft.com/en-us/graph/errors
              "microsoft.graph.", "connect-mggraph", "get-mg", "new-mg", "update-mg", "set-mg"),  # SDKs
    "ews": ("/ews/exchange.asmx", "exchange.asmx", "exchangelib", "exchange web services",
            " ews ", " ews:", " ews.", " ews,", "(ews)",  # EWS as a word, not n-ews
            "ewsmanagedapi", "microsoft.exchange.webservices", "exchangeimpersonation", "soap",
            "x-feserver", "x-beserver",  # the front-end and back-end server headers of Exchange
            "php-ews", "node-ews", "ews-javascript-api", "ews-java-api", "exchangeservice",  # EWS clients
            # the EWS Managed API's exceptions and its "The request failed. {0}" around a WebException
            # (OfficeDev/ews-managed-api: Strings.cs ServiceRequestFailed)
            "servicerequestexception", "serviceresponseexception",
            "the request failed. the remote server returned an error"),
    "sharepoint": (".sharepoint.com", "/_api/", "/_vti_bin/", "client.svc", "csom", "sharepoint", "/sites/",
                   "extsts.srf", "spoidcrl", "fedauth", "/_layouts/",
                   "microsoft.sharepoint", " spo ", "-spo", "pnp",  # SPO as a word, not re-spo-nse
                   "executequery", "clientcontext"),  # CSOM's request and its context
    "onedrive": ("-my.sharepoint.com", "/personal/", "onedrive", "/drive", "mysite"),
    # Exchange mailboxes, whichever API reaches them (EWS, or Graph's mail, calendar and contact paths)
    "mail": ("/messages", "/mailfolders", "/mailboxsettings", "/calendars", "/calendar/", "/contacts",
             "mailbox", "exchange online", "outlook.office365.com", "outlook.office.com",
             "autodiscover-s.outlook.com",  # Exchange Online's Autodiscover host
             "full_access_as_app", "mail.read", "mail.send", *_IMAP_POP),
    "adfs": ("/adfs/", "usernamemixed", "wstrust", "ws-trust", "federated service", "mex endpoint", "adfs",
             "ad fs", "federated user", "federated domain", "federated namespace", "federated account",
             "federated authentication", "federation metadata", "okta", "pingfederate", "shibboleth",
             "wsignin1.0",  # the WS-Federation sign-in request of a federated domain's STS
             # AD FS's own namespace, in its exceptions and event texts (Microsoft.IdentityServer.Web...)
             "microsoft.identityserver"),
}
# The authentication scheme a text shows (a WWW-Authenticate challenge, an Authorization header, prose).
# The credential class a client was given names the scheme too: a user name and password object (EWS Managed
# API WebCredentials, .NET NetworkCredential, requests' HTTPBasicAuth, CSOM SharePointOnlineCredentials,
# office365-rest-python-client UserCredential) signs in with Basic or the legacy IDCRL/SAML flow; a token
# credential (OAuthCredentials and OAuth2Credentials, via "oauth"; azure-identity's) sends a bearer token.
SCHEME_MARKS: dict[str, tuple[str, ...]] = {
    "basic": ("basic realm", "authorization: basic", "basic auth", "basic authentication",
              "basicauthentication", "legacy authentication", "legacy auth", "webcredentials(",
              "networkcredential(", "httpbasicauth", "sharepointonlinecredentials", "usercredential("),
    "ntlm": ("ntlm", "httpntlmauth"),
    "negotiate": ("negotiate", "kerberos"),
    "bearer": ("bearer", "oauth", "access token", "access_token", "app-only", "app only",
               "clientsecretcredential", "certificatecredential", "client_credentials"),
}
# IMAP's LOGIN command and POP's USER/PASS send the user name and password in plain (RFC 3501 6.2.3, RFC 1939
# section 7): an IMAP or POP client's sign-in is the Basic scheme unless the text shows OAuth
# (XOAUTH2 contains "oauth", a bearer mark)
_PLAIN_LOGIN: dict[str, tuple[str, ...]] = {"imap-pop": _IMAP_POP}
_ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com", "autodiscover-s.outlook.com",
                 ".sharepoint.com", "graph.microsoft.com", "login.microsoftonline.com", "exchange online",
                 "office 365", "office365", "microsoft 365")
# A WWW-Authenticate header's value (to the end of its line or field) and the scheme names in it.
_CHALLENGE = re.compile(r"www-authenticate[\"']?\s*[:=]\s*([^\n]{0,300})", re.I)
_SCHEME_NAME = re.compile(r"\b(basic|ntlm|negotiate|bearer|kerberos)\b", re.I)
# AD FS numbers its errors MSIS<digits> (MSIS3173, MSIS7012, MSIS7065 ...), in its event log and in what a
# failed federated sign-in returns: https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2008-r2-and-2008/ff641724(v=ws.10)
_MSIS = re.compile(r"msis\d{4}")
_EWS_HOST = re.compile(r"https?://([\w.-]+)/ews/exchange\.asmx", re.I)


@dataclass
class Signals:
    """One error text, normalised, with what could be read from its structure."""

    text: str  # unescaped, as lines (headers are matched per line)
    flat: str  # lower-case, whitespace collapsed (phrases are matched here)
    codes: set[str] = field(default_factory=set)  # lower-case: aadsts50126, invalid_client, accessdenied ...
    words: set[str] = field(default_factory=set)  # every lower-case word of the text (codes stand alone)
    statuses: set[int] = field(default_factory=set)
    worded: set[int] = field(default_factory=set)  # said in words only ("access denied"): counts in a context
    exceptions: set[str] = field(default_factory=set)  # lower-case class names, without module
    services: set[str] = field(default_factory=set)  # identity, graph, ews, mail, sharepoint, onedrive, adfs
    schemes: set[str] = field(default_factory=set)  # basic, ntlm, negotiate, bearer
    cloud: str | None = None  # online (Microsoft 365 hosts), onprem (an EWS host of its own), or unknown
    offered: set[str] = field(default_factory=set)  # schemes a WWW-Authenticate challenge in the text names
    placeholders: list[str] = field(default_factory=list)  # quoted values that are a sample's placeholder


def normalise(text: str) -> str:
    """Undo JSON/repr escaping (up to three levels), HTML entities and URL encoding."""
    for _ in range(3):
        before = text
        for old, new in _ESCAPES:
            text = text.replace(old, new)
        text = text.replace("\\\\", "\\")
        if text == before:
            break
    text = html.unescape(text)
    if _URL_ENCODED.search(text):
        decoded = unquote_plus(text)
        if decoded != text:
            text = f"{text}\n{decoded}"  # both: a '+' may be meant literally
    return text


def read_signals(raw: str) -> Signals:
    """Parse an error text once; every symptom is then matched against the result."""
    text = normalise(raw)
    signals = Signals(text=text, flat=" ".join(text.split()).lower())
    signals.codes = _codes(text, signals.flat)
    signals.words = set(_WORD.findall(signals.flat))
    signals.statuses = {int(m) for p in _STATUS_PATTERNS for m in _findall(p, text, signals.flat)
                        if 100 <= int(m) <= 599}
    if not signals.statuses:
        signals.worded = _worded_statuses(signals.flat)
    signals.exceptions = {m.lower() for m in _EXCEPTION.findall(text)}
    signals.services = _marked(signals.flat, SERVICE_MARKS)
    if (signals.codes | signals.words) & _EWS_CODES:
        signals.services.add("ews")
    if (signals.codes | signals.words) & _GRAPH_CODES:
        signals.services.add("graph")
    if any(_MSIS.fullmatch(word) for word in signals.words if word.startswith("msis")):
        signals.services.add("adfs")
    if "ews" in signals.services:
        signals.services.add("mail")
    signals.schemes = _marked(signals.flat, SCHEME_MARKS)
    if _marked(signals.flat, _PLAIN_LOGIN) and not signals.schemes & {"bearer"}:
        signals.schemes.add("basic")
    signals.cloud = _cloud(signals.flat)
    signals.offered = {m.lower() for line in _findall(_CHALLENGE, text, signals.flat)
                       for m in _SCHEME_NAME.findall(line)}
    signals.placeholders = placeholders(text)
    return signals


# A value that is a sample's or template's placeholder, never a real id, name or URL: a quoted name with
# "enter"/"your"/"here" in it (Microsoft's samples ship 'Enter_the_Application_Id_here'), or an upper-case
# snake_case name of a setting (CLIENT_ID, TENANT_NAME, MY_COMPANY_NAME) quoted or inside a URL, where
# Entra and SharePoint put a GUID, a host or a URI. Error constants (E_ACCESSDENIED, ERROR_ACCESS_DENIED)
# are upper-case too, hence the setting-name endings and the error words. Angle brackets, asterisks and
# [guid] are left alone: that is how people redact a log before posting it.
_QUOTED = re.compile(r"['\"]([^'\"\s]{3,80})['\"]")
_PLACEHOLDER_WORD = re.compile(r"(?i)(?:^|[_-])(?:enter|your|here|placeholder|change[_-]?me)(?:[_-]|$)")
# quoted, or a part of a host or path (RESOURCE_ID/TENANT_NAME.sharepoint.com); never a $VARIABLE of a script
_IN_URL = re.compile(r"(?<![\w$%{-])([A-Z]+(?:_[A-Z]+)+)(?=['\"./])"
                     r"|(?<=['\"/.])([A-Z]+(?:_[A-Z]+)+)(?![\w-])")
_SETTING_END = ("ID", "NAME", "SECRET", "DOMAIN", "URL", "URI", "TENANT", "GUID", "HERE", "HOST")
_ERROR_WORDS = {"E", "ERROR", "DENIED", "FAILED", "INVALID", "NOT", "ACCESS", "REQUEST", "BAD", "NO"}


# Placeholders written in words: "your-tenant-id", "your_client_id" (Microsoft's and the libraries' samples
# write them so), an instruction left in place ("Insert your client ID here", "<Enter your secret>"), and a
# quoted setting name in braces ('{tenant_id}', '{client-id}'): a template's field that was never formatted,
# sent as it stands. Angle brackets ('<client_id>', '<app-id>') stay a redaction, as above: a paster writes
# them over the real value, also where the service's answer shows that it accepted that value (AADSTS7000215
# names the app whose secret is wrong, so its client id was a real one).
_YOUR_SETTING = re.compile(r"(?i)(?<![\w.$%{-])(?:your|my)[-_](?:tenant|client|app|application|azure|site|"
                           r"org|organization|domain|secret|cert)[-_\w]*(?:id|name|secret|domain|url|guid)\b")
_INSTRUCTION = re.compile(r"(?i)\b(?:insert|enter|put|paste|replace with) your [\w -]{2,40}? here\b"
                          r"|<\s*(?:enter|insert|your)\b[^<>\n]{1,40}>")
_BRACKETED = re.compile(r"['\"](\{\w+[-_]\w+\})['\"]")
# A template's placeholder written as words in quotes ('Tenant Name Here', 'Enter tenant ID'): a few plain
# words naming a setting, then "here", or after "enter"/"insert". A directory's or an app's real name is not
# phrased so, and a quoted 'click here' names no setting.
_SETTING_WORD = r"(?:id|name|secret|domain|url|uri|tenant|guid|host|key|value|address)"
_QUOTED_WORDS = re.compile(rf"(?i)['\"]((?:enter|insert) (?:[a-z]+ ){{0,4}}{_SETTING_WORD}"
                           rf"|(?:[a-z]+ ){{0,4}}{_SETTING_WORD} here)['\"]")
# A URI with a scheme and nothing after it (api://, https:///.default): the setting that should have filled it
# in (an app ID URI, a host name) was empty. Entra quotes such a resource as it received it ("named api://",
# 'api://'); a bare "https://" in prose is not counted.
_EMPTY_URI = re.compile(r"(?i)(?:(?<=named )|(?<=['\"]))((?:api|https?)://)(?=[\s'\"),]|$)"
                        r"|(?<![\w.-])((?:api|https?)://)(?=/)")


def placeholders(text: str) -> list[str]:
    """The placeholder values the text shows (at most a few: evidence, not an inventory)."""
    sample = text[:200_000]
    candidates = [v for v in _QUOTED.findall(sample) if _PLACEHOLDER_WORD.search(v)]
    candidates += [w for m in _IN_URL.finditer(sample) if _setting_name(w := m.group(1) or m.group(2))]
    candidates += _YOUR_SETTING.findall(sample) + _INSTRUCTION.findall(sample)
    candidates += [b for b in _BRACKETED.findall(sample) if _setting_name(b[1:-1].upper().replace("-", "_"))]
    candidates += _QUOTED_WORDS.findall(sample)
    candidates += [m.group(1) or m.group(2) for m in _EMPTY_URI.finditer(sample)]
    found: list[str] = []
    for value in candidates:
        if value not in found:
            found.append(value)
    return found[:3]


def _setting_name(word: str) -> bool:
    parts = word.split("_")
    return parts[-1] in _SETTING_END and not _ERROR_WORDS & set(parts)


# EWS ResponseCode values that name EWS by themselves (the rest of the Error* family is shared with Graph)
# Error codes only Microsoft Graph answers with (https://learn.microsoft.com/en-us/graph/errors and
# https://learn.microsoft.com/en-us/graph/resolve-auth-errors): a Graph error body without its URL.
_GRAPH_CODES = frozenset({"authorization_requestdenied", "authorization_identitynotfound",
                          "invalidauthenticationtoken", "mailboxnotenabledforrestapi",
                          "mailboxnotsupportedforrestapi", "request_resourcenotfound", "request_badrequest"})
_EWS_CODES = frozenset({"errornonexistentmailbox", "errorimpersonateuserdenied", "errormissingemailaddress",
                        "errorserverbusy", "errorinvalidexchangeimpersonationheaderdata",
                        "errormailboxmoveinprogress", "errornameresolutionnoresults"})


def _worded_statuses(flat: str) -> set[int]:
    return {status for pattern, status in _WORDED_STATUSES if pattern.search(flat)}


def _marked(flat: str, marks: dict[str, tuple[str, ...]]) -> set[str]:
    padded = f" {flat} "  # a mark spelled as a word (" ews ") matches at the start and the end too
    return {name for name, needles in marks.items() if any(n in padded for n in needles)}


def _cloud(flat: str) -> str | None:
    """online when the text names a Microsoft 365 host; onprem when EWS runs on a host of its own."""
    if any(host in flat for host in _ONLINE_HOSTS):
        return "online"
    hosts = _EWS_HOST.findall(flat)
    return "onprem" if hosts else None


def _findall(pattern: re.Pattern[str], text: str, flat: str) -> list[str]:
    """pattern.findall(text), skipped where the flattened text lacks what every match needs (a log of
    megabytes is read once per pattern otherwise)."""
    return pattern.findall(text) if may_match(pattern.pattern, flat) else []


def _codes(text: str, flat: str) -> set[str]:
    codes = {f"aadsts{n}" for n in _findall(_AADSTS, text, flat)}
    for group in _findall(_ERROR_CODES, text, flat):
        codes |= {f"aadsts{n.strip()}" for n in group.split(",") if n.strip()}
    for pattern in _CODE_PATTERNS:
        for value in _findall(pattern, text, flat):
            value = value.strip().lower()
            codes.add(value)
            # SharePoint: "-2147024891, System.UnauthorizedAccessException" is two codes in one
            codes |= {part.strip() for part in value.split(",") if part.strip()}
    return codes


# -- matching one symptom ------------------------------------------------------------------------------
def match_code(code: str, signals: Signals) -> str | None:
    """A code read from the structure, or standing alone as a word anywhere in the text."""
    key = code.strip().lower()
    if key in signals.codes:
        return f"code {code}"
    if _WORD.fullmatch(key):
        alone = key in signals.words
    else:  # the substring test first: most codes are absent, and a regex per code costs a compile
        alone = key in signals.flat and bool(_word(key).search(signals.flat))
    if alone:
        return f"code {code}"
    return None


def match_text(phrase: str, signals: Signals) -> str | None:
    key = " ".join(phrase.split()).lower()
    return f'text "{phrase}"' if key and key in signals.flat else None


def match_pattern(pattern: str, signals: Signals) -> str | None:
    """Patterns are matched case-insensitively against the flattened text."""
    found = _search(pattern, signals.flat)
    return f"pattern /{pattern}/ matched \"{quote(found.group(0))}\"" if found else None


def match_topic(kind: str, value: str, signals: Signals) -> str | None:
    """A topic word (a text or a pattern) where the text speaks of it: evidence quotes the words found."""
    if kind == "text":
        return f'speaks of "{value}"' if match_text(value, signals) else None
    found = _search(value, signals.flat)
    return f'speaks of "{quote(found.group(0))}"' if found else None


def match_status(status: int, signals: Signals) -> str | None:
    """The status as a number; or said in words only ("Access denied", "Unauthorized"), as weak as the bare
    number: a person who reads either would name the causes that answer with that status."""
    if status in signals.statuses:
        return f"status {status}"
    return f"status {status} (in words)" if status in signals.worded else None


def match_header(header: str, signals: Signals) -> str | None:
    """`Name` (present) or `Name: value` (value contained), in a header line, a dict repr or prose."""
    if header.partition(":")[0].strip().lower() not in signals.flat:
        return None  # cheap check first: logs can be megabytes
    found = _header(header).search(signals.text)
    return f"header {quote(found.group(0))}" if found else None


def match_exception(name: str, signals: Signals) -> str | None:
    """A class name read as one (…Error, …Exception, …Fault); a class named otherwise (httpx's ReadTimeout,
    requests' MissingSchema, exchangelib's AutoDiscoverFailed) as a whole word of the text."""
    short = name.rsplit(".", 1)[-1]
    found = signals.exceptions if _EXCEPTION.fullmatch(short) else signals.words
    return f"exception {name}" if short.lower() in found else None


def quote(fragment: str) -> str:
    """A piece of the input as evidence: one line, shortened, secrets masked."""
    line = " ".join(fragment.split())
    line = line if len(line) <= MAX_FRAGMENT else line[: MAX_FRAGMENT - 3] + "..."
    return redact(line)


@lru_cache(maxsize=1024)
def _word(code: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(code)}(?![\w-])")


def _search(pattern: str, flat: str) -> re.Match[str] | None:
    """The pattern's first match, its literals tested first: most patterns are absent from most texts."""
    return _compiled(pattern).search(flat) if may_match(pattern, flat) else None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


@lru_cache(maxsize=1024)
def _header(header: str) -> re.Pattern[str]:
    name, _, value = header.partition(":")
    head = rf"(?<![\w-]){re.escape(name.strip())}[\"']?\s*[:=]\s*[\"']?"
    tail = rf"[^\n]*?{re.escape(value.strip())}[^\n]*" if value.strip() else r"[^\n]*"
    return re.compile(head + tail, re.I)
