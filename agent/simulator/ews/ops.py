"""One EWS SOAP operation against the simulated tenant, with Exchange's mailbox rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import quoteattr

from starlette.responses import Response

from agent.simulator.ews import soap
from agent.simulator.state.tenant import Tenant, User

ITEM_NOT_FOUND = ("ErrorItemNotFound", "The specified object was not found in the store.")
# office-developer-exchange-docs web-service-reference/responsecode.md: ErrorInvalidIdMalformed is the
# answer to a malformed Id attribute
ID_MALFORMED = ("ErrorInvalidIdMalformed", "Id is malformed.")


@dataclass(frozen=True)
class Caller:
    """Who an accepted request acts as: an app (app-only token) or a user (delegated token / Basic)."""

    upn: str | None  # None for app-only
    full_access: bool = False  # app-only with full_access_as_app: may impersonate anyone


class MailboxRules(Protocol):
    """What an operation asks of its endpoint (Exchange Online or on-premises)."""

    version: soap.ServerVersion

    def can_impersonate(self, caller: Caller) -> bool: ...

    def caller_has_mailbox(self, tenant: Tenant, user: User) -> bool: ...


class Operation:
    """One SOAP operation against the tenant, with the mailbox rules of Exchange."""

    def __init__(self, endpoint: MailboxRules, tenant: Tenant, caller: Caller,
                 request: soap.SoapRequest) -> None:
        self.endpoint, self.tenant, self.caller, self.request = endpoint, tenant, caller, request
        self.version = endpoint.version

    def run(self) -> Response:
        denied = self._impersonation_error()
        if denied is not None:
            return denied
        handlers = {"ConvertId": self._convert_id, "GetFolder": self._get_folder,
                    "FindFolder": self._find_folder, "ResolveNames": self._resolve_names}
        handler = handlers.get(self.request.operation)
        if handler is None:
            return soap.fault("ErrorInvalidRequest", f"The request is invalid: {self.request.operation} "
                              "is not supported by this server.", self.version)
        return handler()

    def _impersonation_error(self) -> Response | None:
        target = self.request.impersonated
        if target is None:
            return None
        if not self.endpoint.can_impersonate(self.caller):
            return soap.fault("ErrorImpersonateUserDenied", soap.IMPERSONATE_DENIED, self.version)
        if not self._has_mailbox(target):
            return soap.fault("ErrorNonExistentMailbox", soap.NON_EXISTENT_MAILBOX, self.version)
        return None

    def _has_mailbox(self, address: str) -> bool:
        user = self.tenant.find_user(address) or self._user_by_mail(address)
        return user is not None and self.endpoint.caller_has_mailbox(self.tenant, user)

    def _user_by_mail(self, address: str) -> User | None:
        low = address.lower()
        return next((u for u in self.tenant.users.values() if (u.mail or "").lower() == low), None)

    def _acting_mailbox(self) -> str | None:
        """The mailbox a request acts on when it names none: the impersonated or signed-in user."""
        return self.request.impersonated or self.caller.upn

    def _mailbox_error(self, address: str | None) -> tuple[str, str] | None:
        if address is None:  # app-only without impersonation: Exchange needs to know the mailbox
            return ("ErrorMissingEmailAddress",
                    "When making a request as an account that does not have a mailbox, you must specify "
                    "the mailbox primary SMTP address for any distinguished folder Ids.")
        if not self._has_mailbox(address):
            return ("ErrorNonExistentMailbox", soap.NON_EXISTENT_MAILBOX)
        acting = self._acting_mailbox()
        if not self.caller.full_access and (acting is None or acting.lower() != address.lower()):
            # Another user's mailbox without impersonation needs a FullAccess grant the model lacks.
            return ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return None

    def _convert_id(self) -> Response:
        """convertid-operation.md: one message per source id, the id in `DestinationFormat` for its
        mailbox; a malformed id is ErrorInvalidIdMalformed. The simulator has one id encoding, so the
        id itself comes back unchanged."""
        msgs = []
        for source in self.request.source_ids:
            if not soap.well_formed_id(source.id):
                msgs.append(soap.message("ConvertId", error=ID_MALFORMED))
                continue
            inner = (f'<m:AlternateId xsi:type="t:AlternateIdType" '
                     f"Format={quoteattr(self.request.destination_format)} Id={quoteattr(source.id)} "
                     f"Mailbox={quoteattr(source.mailbox)}/>")
            msgs.append(soap.message("ConvertId", inner))
        return soap.operation("ConvertId", msgs, self.version)

    def _get_folder(self) -> Response:
        msgs = []
        for ref in self.request.folders:
            error, address, name = self._folder_target(ref)
            if error is not None:
                # getfolder-operation.md, error response example: the message keeps an empty Folders
                msgs.append(soap.message("GetFolder", error=error, error_tail="<m:Folders/>"))
                continue
            msgs.append(soap.message("GetFolder", f"<m:Folders>{soap.folder_xml(address, name)}</m:Folders>"))
        return soap.operation("GetFolder", msgs, self.version)

    def _folder_target(self, ref: soap.FolderRef) -> tuple[tuple[str, str] | None, str, str]:
        """(None, mailbox, folder name) of a requested folder, or ((ErrorCode, text), "", "")."""
        address = ref.mailbox or self._acting_mailbox()
        error = self._mailbox_error(address)
        if error is not None or address is None:
            return error or ITEM_NOT_FOUND, "", ""
        if not ref.distinguished and not soap.well_formed_id(ref.folder_id):
            return ID_MALFORMED, "", ""
        name = ref.folder_id.lower() if ref.distinguished else self._folder_name(address, ref.folder_id)
        return (None, address, name) if name is not None else (ITEM_NOT_FOUND, "", "")

    @staticmethod
    def _folder_name(address: str, folder_id: str) -> str | None:
        return next((n for n in soap.FOLDER_NAMES if soap.folder_id(address, n) == folder_id), None)

    def _find_folder(self) -> Response:
        """findfolder-operation.md: the parent's subfolders (the model has none) in a RootFolder; a
        malformed parent id is ErrorInvalidIdMalformed, with no RootFolder."""
        msgs = []
        for ref in self.request.folders:
            error = self._folder_target(ref)[0]
            if error is not None:
                msgs.append(soap.message("FindFolder", error=error))
                continue
            root = ('<m:RootFolder TotalItemsInView="0" IncludesLastItemInRange="true"><t:Folders/>'
                    "</m:RootFolder>")
            msgs.append(soap.message("FindFolder", root))
        return soap.operation("FindFolder", msgs, self.version)

    def _resolve_names(self) -> Response:
        """resolvenames-operation.md: one hit is Success, several a Warning that still carries them
        (ErrorNameResolutionMultipleResults, responsecode.md), none an Error; at most 100 candidates."""
        needle = (self.request.unresolved or "").lower().removeprefix("smtp:")
        exact = self.tenant.find_user(needle) if needle else None
        hits = [exact] if exact else [u for u in self.tenant.users.values() if needle and _matches(u, needle)]
        hits = hits[:100]
        if not hits:
            error = ("ErrorNameResolutionNoResults", "No results were found.")
            return soap.operation("ResolveNames", [soap.message("ResolveNames", error=error)], self.version)
        contact = self.request.full_contact_data
        found = soap.resolution_set([soap.resolution_xml(u.display_name, u.mail or u.upn, contact)
                                     for u in hits])
        several = ("ErrorNameResolutionMultipleResults", "Multiple results were found.")
        msg = soap.message("ResolveNames", found, several if len(hits) > 1 else None, warning=True)
        return soap.operation("ResolveNames", [msg], self.version)


def _matches(user: User, needle: str) -> bool:
    """ResolveNames is an ambiguous-name match: prefix of the address, alias or display name."""
    address = (user.mail or user.upn).lower()
    return (address.startswith(needle) or user.upn.lower().startswith(needle)
            or user.display_name.lower().startswith(needle))
