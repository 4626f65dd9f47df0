"""The message texts Exchange (EWS), Microsoft Graph and SharePoint send with the codes the vocabularies map:
a tool that prints only the message, without its code, still names what the code names. Each text below is
the service's literal message as its source quotes it (the EWS Managed API's ServiceError enumeration,
Microsoft's EWS operation reference, exchangelib's recorded responses, Microsoft Q&A, PnP's CLI docs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.explain.clue import KNOWLEDGE_DIR
from agent.explain.knowledge import Knowledge
from agent.explain.rank import _clue_evidence, explain
from agent.explain.signals import read_signals
from tests.explain.expect import cause_first, unrelated_kind

FILE = Path(KNOWLEDGE_DIR) / "service-messages.yaml"



def test_no_text_repeats_one_of_another_vocabulary_or_playbook() -> None:
    entries = yaml.safe_load(FILE.read_text(encoding="utf-8"))["entries"]
    ours = {e["text"].lower() for e in entries if "text" in e}
    others: set[str] = set()
    files = [p for p in Path(KNOWLEDGE_DIR).glob("*.yaml") if p != FILE]
    files += list(Path(KNOWLEDGE_DIR).parents[1].joinpath("playbooks").rglob("*.yaml"))

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                others.add(node["text"].lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in files:
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert not ours & others


@pytest.mark.parametrize("text, cause", [
    # EWS MessageText without its ResponseCode
    ("Microsoft.Exchange.WebServices.Data.ServiceResponseException: Account is disabled. Contact the account "
     "administrator.", "bad-credentials"),
    ("exchangelib.errors.ErrorPasswordExpired: Password has expired. Change password.", "bad-credentials"),
    ("The user is not a delegate for the mailbox.", "exo-app-missing-full-access"),
    ("The user account which was used to submit this request does not have the right to send mail on behalf "
     "of the specified sending account.", "exo-app-missing-full-access"),
    ("Unable to create item. The user account does not have the right to create items.",
     "exo-app-missing-full-access"),
    ("<faultstring>Microsoft.Exchange.Data.Storage.AccessDeniedException: User is not mailbox owner. User = "
     "S-1-5-21-3642464542</faultstring>", "exo-app-missing-full-access"),
    ("ServiceResponseException: Mailbox does not exist.", "account-unlicensed"),
    ("No mailbox with such guid.", "account-unlicensed"),
    ("When making a request as an account that does not have a mailbox, you must specify the mailbox primary "
     "SMTP address for any distinguished folder Ids.", "account-unlicensed"),
    ("User must have a mailbox for name resolution operations.", "account-unlicensed"),
    ("User doesn't have a valid license.", "account-unlicensed"),
    ("The impersonation principal name is invalid.", "account-unlicensed"),
    # Graph messages
    ("Code: ErrorInvalidUser Message: The requested user 'jane@contoso.com' is invalid.",
     "account-unlicensed"),
    ("The requested user 'jane@contoso.com' is invalid.", "account-unlicensed"),
])
def test_a_service_message_names_its_codes_cause_first(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


@pytest.mark.parametrize("text, kind", [
    ("You have exceeded the available concurrent connections for your account.  Try again once your other "
     "requests have completed.", "throttling"),
    ("<m:MessageText>Too many concurrent connections opened.</m:MessageText>", "throttling"),
    ("Resources are unavailable. Try again later.", "throttling"),
    ("Mailbox has exceeded maximum mailbox size.", "quota-exceeded"),
    ("The Organization is marked for removal.", "tenant-blocked"),
    ("An internal server error occurred. Try again later.", "service-outage"),
    ("Active Directory is unavailable. Try again later.", "service-outage"),
    ("The mailbox database is temporarily unavailable.", "service-outage"),
    ("An ExchangeImpersonation SOAP header must contain a user principal name, user SID, or primary SMTP "
     "address.", "tool-bug"),
    ("The request failed schema validation: The element 'FindItem' has invalid child element.", "tool-bug"),
    ("ExchangeImpersonation SOAP header must be present for this type of OAuth token.", "tool-bug"),
    ("Access is denied. Only the subscription owner may access the subscription.", "tool-bug"),
    # SharePoint REST messages
    ('{"odata.error":{"message":{"value":"The file \\"https://contoso.sharepoint.com/sites/hr/Shared '
     'Documents/a.txt\\" is checked out for editing by i:0#.f|membership|ann@contoso.com"}}}',
     "item-conflict"),
    ("A file with the name Shared Documents/a.docx already exists. It was last modified by i:0#.f|membership|"
     "ann@contoso.com on 24 Nov 2017. https://contoso.sharepoint.com/sites/hr/_api/web", "item-conflict"),
])
def test_a_service_message_names_its_codes_kind(shipped: Knowledge, text: str, kind: str) -> None:
    unrelated_kind(explain(text, shipped), kind)


@pytest.mark.parametrize("text", ["No results were found.", "Multiple results were found.",
                                  "Invalid search criteria.", "Impersonation failed."])
def test_a_generic_message_counts_only_with_ews_named(shipped: Knowledge, text: str) -> None:
    result = explain(text, shipped)
    matches = result.causes + ([result.other] if result.other is not None else [])
    assert not any(text.rstrip(".") in e for m in matches for e in m.evidence)
    ours = [c for c in shipped.clues if c.vocabulary == "service-messages" and c.value == text.rstrip(".")]
    assert ours and all(c.services and c.weight < 1 for c in ours)  # bound to EWS, and weak
    named = read_signals(f"{text} https://outlook.office365.com/EWS/Exchange.asmx")
    assert all(_clue_evidence(c, named) for c in ours)
    assert not any(_clue_evidence(c, read_signals(text)) for c in ours)


def test_a_generic_message_with_ews_named_is_weak_evidence(shipped: Knowledge) -> None:
    result = explain("ResolveNames failed: No results were found. https://outlook.office365.com/EWS/Exchange.asmx",
                     shipped)
    unlicensed = next(m for m in result.causes if m.id == "account-unlicensed")
    assert any("No results were found" in e for e in unlicensed.evidence)
    assert not unlicensed.strong
