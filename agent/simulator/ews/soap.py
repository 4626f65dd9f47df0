"""EWS SOAP wire format: parse the few requests the simulator serves and render their responses."""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from starlette.responses import Response

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
XML_TYPE = "text/xml; charset=utf-8"

NON_EXISTENT_MAILBOX = "The SMTP address has no mailbox associated with it."
IMPERSONATE_DENIED = "The account does not have permission to impersonate the requested user."


@dataclass(frozen=True)
class ServerVersion:
    """What goes into the ServerVersionInfo SOAP header (exchangelib reads the build from it)."""

    major: int
    minor: int
    build: int
    revision: int
    version: str


# Exchange Online answers with its own build and a fake schema name; exchangelib handles both.
EXO_VERSION = ServerVersion(15, 20, 8198, 18, "V2018_01_08")
ONPREM_VERSION = ServerVersion(15, 2, 1544, 4, "V2017_07_11")  # Exchange Server 2019 CU14


@dataclass(frozen=True)
class FolderRef:
    """A requested folder: a distinguished id (root, inbox ...) or an opaque FolderId, maybe in a mailbox."""

    folder_id: str
    distinguished: bool
    mailbox: str | None = None


@dataclass(frozen=True)
class AlternateId:
    """One ConvertId source id: its format, the id itself and the mailbox it belongs to."""

    format: str
    id: str
    mailbox: str


@dataclass
class SoapRequest:
    """The parts of an EWS request the simulator acts on."""

    operation: str
    impersonated: str | None = None  # ExchangeImpersonation/ConnectingSID value
    impersonation_header: bool = False  # an ExchangeImpersonation SOAP header is present (even empty)
    folders: list[FolderRef] = field(default_factory=list)
    unresolved: str | None = None  # ResolveNames/UnresolvedEntry
    full_contact_data: bool = False  # ResolveNames ReturnFullContactData="true"
    destination_format: str = ""  # ConvertId DestinationFormat
    source_ids: list[AlternateId] = field(default_factory=list)  # ConvertId SourceIds


class SoapParseError(ValueError):
    """The body is not an EWS SOAP request."""


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def parse_request(body: bytes) -> SoapRequest:
    """Read the operation, the impersonation header and the operation's arguments."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapParseError(f"The request failed schema validation: {exc}") from exc
    soap_body = root.find(_q(SOAP_NS, "Body"))
    if soap_body is None or len(soap_body) == 0:
        raise SoapParseError("The request failed schema validation: no SOAP Body.")
    op_el = soap_body[0]
    request = SoapRequest(operation=op_el.tag.rsplit("}", 1)[-1])
    request.impersonated = _impersonated(root)
    header = root.find(_q(SOAP_NS, "Header"))
    found = header.find(_q(T_NS, "ExchangeImpersonation")) if header is not None else None
    request.impersonation_header = found is not None
    request.folders = _folder_refs(op_el)
    entry = op_el.find(_q(M_NS, "UnresolvedEntry"))
    request.unresolved = (entry.text or "").strip() if entry is not None else None
    request.full_contact_data = op_el.get("ReturnFullContactData", "").lower() == "true"
    request.destination_format = op_el.get("DestinationFormat", "")
    request.source_ids = [AlternateId(el.get("Format", ""), el.get("Id", ""), el.get("Mailbox", ""))
                          for el in op_el.iter(_q(T_NS, "AlternateId"))]
    return request


def _impersonated(root: ET.Element) -> str | None:
    path = "/".join((_q(SOAP_NS, "Header"), _q(T_NS, "ExchangeImpersonation"), _q(T_NS, "ConnectingSID")))
    sid = root.find(path)
    if sid is None:
        return None
    for tag in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
        found = sid.find(_q(T_NS, tag))
        if found is not None and found.text:
            return found.text.strip()
    return None


def _folder_refs(op_el: ET.Element) -> list[FolderRef]:
    refs: list[FolderRef] = []
    for el in op_el.iter():
        name = el.tag.rsplit("}", 1)[-1]
        if name == "DistinguishedFolderId":
            mail = el.find(f"{_q(T_NS, 'Mailbox')}/{_q(T_NS, 'EmailAddress')}")
            address = mail.text.strip() if mail is not None and mail.text else None
            refs.append(FolderRef(el.get("Id", ""), True, address))
        elif name == "FolderId" and el.get("Id"):
            refs.append(FolderRef(el.get("Id", ""), False))
    return refs


# -- rendering ---------------------------------------------------------------------------------

def _version_header(v: ServerVersion) -> str:
    return (f'<h:ServerVersionInfo MajorVersion="{v.major}" MinorVersion="{v.minor}" '
            f'MajorBuildNumber="{v.build}" MinorBuildNumber="{v.revision}" Version="{v.version}" '
            f'xmlns:h="{T_NS}" xmlns="{T_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>')


def envelope(body: str, version: ServerVersion, status: int = 200) -> Response:
    """A SOAP envelope; the ServerVersionInfo header is what exchangelib's version guessing needs."""
    xml = (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}">'
           f"<s:Header>{_version_header(version)}</s:Header>"
           '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>')
    return Response(xml, status_code=status, media_type=XML_TYPE)


def fault(code: str, text: str, version: ServerVersion, status: int = 500) -> Response:
    """A SOAP Fault (HTTP 500); exchangelib raises the exception class named by the ResponseCode."""
    body = (f'<s:Fault><faultcode xmlns:a="{T_NS}">a:{code}</faultcode>'
            f'<faultstring xml:lang="en-US">{escape(text)}</faultstring><detail>'
            f'<e:ResponseCode xmlns:e="{E_NS}">{code}</e:ResponseCode>'
            f'<e:Message xmlns:e="{E_NS}">{escape(text)}</e:Message></detail></s:Fault>')
    return envelope(body, version, status)


def message(op: str, inner: str = "", error: tuple[str, str] | None = None, *, warning: bool = False,
            error_tail: str = "") -> str:
    """One `<op>ResponseMessage`: Success with `inner`, or Error (Warning) with (code, text).

    `error_tail` is what an error message still carries (getfolder-operation.md: an empty
    `<m:Folders />`); a Warning keeps `inner` (resolvenames-operation.md: several matches).
    """
    if error is None:
        return (f'<m:{op}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
                f"{inner}</m:{op}ResponseMessage>")
    code, text = error
    kind, tail = ("Warning", inner) if warning else ("Error", error_tail)
    return (f'<m:{op}ResponseMessage ResponseClass="{kind}"><m:MessageText>{escape(text)}</m:MessageText>'
            f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            f"{tail}</m:{op}ResponseMessage>")


def operation(op: str, messages: list[str], version: ServerVersion) -> Response:
    """The `<op>Response` wrapper around its response messages."""
    body = (f'<m:{op}Response xmlns:m="{M_NS}" xmlns:t="{T_NS}"><m:ResponseMessages>'
            f'{"".join(messages)}</m:ResponseMessages></m:{op}Response>')
    return envelope(body, version)


def well_formed_id(value: str) -> bool:
    """EWS ids are base64 of a binary store id; anything that does not decode to one is malformed."""
    try:
        return len(base64.b64decode(value, validate=True)) >= 8
    except (ValueError, TypeError):
        return False


def folder_id(mailbox: str, name: str) -> str:
    """A stable opaque id per (mailbox, folder), base64 like real EWS ids."""
    digest = hashlib.sha256(f"{mailbox.lower()}/{name.lower()}".encode()).digest()
    return base64.b64encode(b"AAMk" + digest[:30]).decode()


FOLDER_NAMES = {"root": "Top of Information Store", "msgfolderroot": "Top of Information Store",
                "inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts",
                "deleteditems": "Deleted Items", "calendar": "Calendar", "contacts": "Contacts"}
FOLDER_CLASSES = {"calendar": "IPF.Appointment", "contacts": "IPF.Contact"}


def folder_xml(mailbox: str, name: str) -> str:
    """A `t:Folder` (or CalendarFolder/ContactsFolder) with the properties exchangelib asks for."""
    tag = {"calendar": "CalendarFolder", "contacts": "ContactsFolder"}.get(name, "Folder")
    fid = folder_id(mailbox, name)
    cls = FOLDER_CLASSES.get(name)
    cls_xml = f"<t:FolderClass>{cls}</t:FolderClass>" if cls else ""
    return (f'<t:{tag}><t:FolderId Id={quoteattr(fid)} ChangeKey="AQAAABYAAAA="/>{cls_xml}'
            f"<t:DisplayName>{escape(FOLDER_NAMES.get(name, name))}</t:DisplayName>"
            "<t:TotalCount>0</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount>"
            f"<t:UnreadCount>0</t:UnreadCount></t:{tag}>")


def resolution_xml(name: str, address: str, contact: bool = False) -> str:
    """One ResolveNames hit; with ReturnFullContactData the directory entry's `t:Contact` too
    (resolvenames-operation.md: DisplayName, EmailAddresses, ContactSource ActiveDirectory)."""
    contact_xml = (f"<t:Contact><t:DisplayName>{escape(name)}</t:DisplayName><t:EmailAddresses>"
                   f'<t:Entry Key="EmailAddress1">SMTP:{escape(address)}</t:Entry></t:EmailAddresses>'
                   "<t:ContactSource>ActiveDirectory</t:ContactSource></t:Contact>") if contact else ""
    return (f"<t:Resolution><t:Mailbox><t:Name>{escape(name)}</t:Name>"
            f"<t:EmailAddress>{escape(address)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
            f"<t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>{contact_xml}</t:Resolution>")


def resolution_set(resolutions: list[str]) -> str:
    return (f'<m:ResolutionSet TotalItemsInView="{len(resolutions)}" IncludesLastItemInRange="true">'
            f'{"".join(resolutions)}</m:ResolutionSet>')
