"""explain as a differential: services, schemes and cloud read from the text, vocabulary clues with their
sources (restricted by service, speaking against causes, counted once), the next command, input limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from agent.cli.main import app
from agent.errors import PlaybookError
from agent.explain.answer import explanation_data, render_text
from agent.explain.clue import Sign
from agent.explain.knowledge import Entry, Knowledge, unrelated_entries, vocabulary_clues
from agent.explain.paste import MAX_INPUT
from agent.explain.rank import explain
from agent.explain.signals import read_signals
from agent.explain.vocab import Clue, ContextSpec, load_clues, vocabulary_files
from agent.playbook.schema import Symptom
from tests.explain.expect import cause_first
from tests.explain.test_explain import CAUSES

EWS_BASIC_ONLINE = ('The remote server returned an error: (401) Unauthorized. POST '
                    'https://outlook.office365.com/EWS/Exchange.asmx WWW-Authenticate: Basic realm="x"')


def _entry(cid: str, *symptoms: dict[str, object]) -> Entry:
    signs = (Symptom.model_validate(s) for s in symptoms)
    return Entry(cid, cid.title(), f"advice for {cid}",
                 tuple(Sign(s.kind, s.value, s.weight, frozenset(s.services or ())) for s in signs))


def _clue(kind: str, value: object, target: str, weight: float = 3.0, **kw: object) -> Clue:
    return Clue(kind, value, target, bool(kw.pop("unrelated", False)), weight,
                "https://learn.microsoft.com/x", "toy", **kw)  # type: ignore[arg-type]


@pytest.fixture
def toy() -> Knowledge:
    causes = (_entry("creds"), _entry("mfa"), _entry("legacy"), _entry("grant"))
    clues = (
        _clue("code", "AADSTS50126", "creds"),
        _clue("code", "AADSTS50076", "mfa", against=("creds",)),
        _clue("code", "AADSTS50126", "creds", weight=2.0),  # the same signal from a second vocabulary
        _clue("text", "access is denied", "grant", weight=2.0, services=frozenset({"ews"})),
        _clue("context", ContextSpec(services=["ews"], schemes=["basic"], cloud="online"), "legacy"),
        _clue("code", "AADSTS90002", "wrong-tenant", unrelated=True),
    )
    unrelated = (Entry("wrong-tenant", "Wrong tenant", "Check the tenant id.", ()),)
    return Knowledge(causes, unrelated, clues)


def test_signals_tell_the_service_the_scheme_and_the_cloud() -> None:
    online = read_signals(EWS_BASIC_ONLINE)
    assert "ews" in online.services and "basic" in online.schemes and online.cloud == "online"
    onprem = read_signals("POST https://mail.contoso.local/EWS/Exchange.asmx: 401, WWW-Authenticate: NTLM")
    assert onprem.cloud == "onprem" and "ntlm" in onprem.schemes
    # the product named in words, in either of Microsoft's spellings, and no EWS host of its own
    assert read_signals("EWS with my Office365 account: 401").cloud == "online"
    assert read_signals("EWS with my Office 365 account: 401").cloud == "online"
    assert read_signals("EWS with my account: 401").cloud is None
    site = read_signals("GET https://contoso-my.sharepoint.com/personal/a_b/_api/web 403 Forbidden")
    assert {"onedrive", "sharepoint"} <= site.services
    federated = read_signals("https://sts.contoso.com/adfs/services/trust/2005/usernamemixed")
    assert "adfs" in federated.services
    assert read_signals("AADSTS50126").services == {"identity"}


def test_a_clue_counts_once_at_its_highest_weight(toy: Knowledge) -> None:
    (best,) = explain("AADSTS50126: invalid username or password", toy).causes
    assert best.id == "creds" and best.evidence == ["code AADSTS50126"]
    assert best.score == pytest.approx(9.0)  # 3 x the code factor 3, not 9 + 6


def test_a_signal_speaks_against_a_cause(toy: Knowledge) -> None:
    result = explain("AADSTS50076 after AADSTS50126", toy)
    mfa, creds = result.causes
    assert (mfa.id, creds.id) == ("mfa", "creds")
    assert creds.against == ["code AADSTS50076"] and creds.score < mfa.score
    data = explanation_data(result)
    assert data["causes"][1]["against"] == ["code AADSTS50076"]
    assert "against: code AADSTS50076" in render_text(result)


def test_a_service_bound_clue_needs_its_service(toy: Knowledge) -> None:
    assert explain("Access is denied.", toy).causes == []  # a phrase says nothing without its service
    ews = explain("Access is denied. https://mail.contoso.com/EWS/Exchange.asmx", toy)
    assert [m.id for m in ews.causes] == ["grant"]


def test_a_service_bound_code_counts_at_a_share_when_no_service_is_named() -> None:
    """An identifier belongs to its service's vocabulary: with no service named it still counts, at a share,
    and says so; a text that names another service rules it out."""
    knowledge = Knowledge((_entry("grant"),), (), (_clue("code", "ErrorAccessDenied", "grant", weight=1.0,
                                                         services=frozenset({"ews"})),))
    (named,) = explain("ErrorAccessDenied https://mail.contoso.com/EWS/Exchange.asmx", knowledge).causes
    (unnamed,) = explain("ErrorAccessDenied: Access is denied.", knowledge).causes
    assert unnamed.score == pytest.approx(named.score * 0.6) == pytest.approx(3.0 * 0.6)
    assert unnamed.evidence == ["code ErrorAccessDenied (if from ews: the text names no service)"]
    assert explain("ErrorAccessDenied GET https://contoso.sharepoint.com/_api/web", knowledge).causes == []


def test_context_alone_points_at_a_cause(toy: Knowledge) -> None:
    (legacy,) = explain(EWS_BASIC_ONLINE, toy).causes
    assert legacy.id == "legacy" and legacy.evidence == ["context ews + basic + Exchange Online"]
    assert legacy.sources == ["https://learn.microsoft.com/x"]


def test_next_names_the_command_that_tells_close_candidates_apart(toy: Knowledge) -> None:
    result = explain("AADSTS50076 and AADSTS50126", toy)
    assert explanation_data(result)["next"] == ["agent diagnose --only mfa,creds"]
    assert "agent diagnose --only mfa,creds" in render_text(result)


def test_the_other_reading_a_source_names_follows_a_decided_cause_weakly() -> None:
    causes = (_entry("creds"), _entry("federated"), _entry("mfa"))
    clues = (_clue("code", "AADSTS50056", "creds", also=("federated", "mfa")),
             _clue("code", "AADSTS50056", "creds", weight=2.0, also=("federated",)))
    result = explain("AADSTS50056: Invalid or null password", Knowledge(causes, (), clues))
    assert [m.id for m in result.causes] == ["creds", "federated", "mfa"]
    creds, federated, _ = result.causes
    assert creds.strong and not federated.strong and federated.score < creds.score
    assert federated.evidence == ["code AADSTS50056: its source names this cause too"]
    assert result.next == ["agent diagnose --only creds"]  # decided: the weak readings are not in --only
    against = (*clues, _clue("text", "cloud-only account", "mfa", against=("federated",)))
    text = "AADSTS50056: Invalid or null password (a cloud-only account)"
    listed = explain(text, Knowledge(causes, (), against))
    assert "federated" not in [m.id for m in listed.causes]  # a reading the text speaks against is not listed
    assert explain("no code here", Knowledge(causes, (), clues)).causes == []


def test_an_unrelated_reading_the_source_names_is_shown_beside_a_decided_cause() -> None:
    """AADSTS700016's own message names the wrong tenant as well: the cause stays first, the unrelated
    reading is shown beside it (never as a cause, never in --only); a signal of its own takes its place."""
    causes = (_entry("consent"), _entry("creds"))
    unrelated = (_entry("wrong-tenant"), _entry("tls"))
    clues = (_clue("code", "AADSTS700016", "consent", also=("wrong-tenant", "creds")),
             _clue("text", "certificate is invalid", "tls", weight=1.0, unrelated=True))
    knowledge = Knowledge(causes, unrelated, clues)
    result = explain("AADSTS700016: Application with identifier 'x' was not found", knowledge)
    assert [m.id for m in result.causes] == ["consent", "creds"]
    assert result.next == ["agent diagnose --only consent"]
    assert result.reading and result.also is not None and result.also.id == "wrong-tenant"
    assert result.also.evidence == ["code AADSTS700016: its source names this reading too"]
    also = explanation_data(result)["also"]
    assert also["kind"] == "wrong-tenant" and also["reading"] is True
    assert "Also possible, not a connector cause:" in render_text(result)
    signal = explain("AADSTS700016 ... the remote certificate is invalid", knowledge)
    assert not signal.reading and signal.also is not None and signal.also.id == "tls"
    assert "Also in the text, not a connector cause:" in render_text(signal)
    assert explanation_data(signal)["also"]["reading"] is False
    undecided = Knowledge(causes, unrelated, (_clue("text", "Access denied", "consent", weight=0.5,
                                                     also=("wrong-tenant",)),))
    assert explain("Access denied", undecided).also is None  # a weak signal's reading is not shown
    lesser = Knowledge(causes, unrelated, (*clues, _clue("code", "AADSTS65001", "consent", weight=3.0),
                                           _clue("code", "invalid_grant", "consent", weight=1.0,
                                                 also=("wrong-tenant",))))
    beside = explain("AADSTS65001: not consented (invalid_grant)", lesser)
    assert beside.causes[0].id == "consent" and beside.also is None  # only the deciding signal's reading


def test_causes_the_source_of_an_unrelated_answer_names_are_listed_to_rule_out() -> None:
    """AADSTS16000 names the wrong tenant and, in the same source, a mistyped account: the answer stays the
    unrelated kind (no cause is named), and the cause is offered to rule out on the tenant."""
    causes = (_entry("creds"), _entry("mfa"), _entry("consent"))
    unrelated = (_entry("wrong-tenant"),)
    clues = (_clue("code", "AADSTS16000", "wrong-tenant", unrelated=True, also=("creds", "mfa")),
             _clue("code", "AADSTS90002", "wrong-tenant", unrelated=True),
             _clue("text", "cloud-only account", "creds", weight=0.5, against=("mfa",)))
    knowledge = Knowledge(causes, unrelated, clues)
    result = explain("AADSTS16000: SelectUserAccount", knowledge)
    assert result.causes == [] and result.other is not None and result.other.id == "wrong-tenant"
    assert [m.id for m in result.rule_out] == ["creds", "mfa"]
    assert not any(m.strong for m in result.rule_out)
    assert result.rule_out[0].evidence == ["code AADSTS16000: its source names this cause too"]
    assert result.next == ["agent diagnose --only creds,mfa"]
    data = explanation_data(result)
    assert data["causes"] == [] and [r["id"] for r in data["rule_out"]] == ["creds", "mfa"]
    assert data["next"] == ["agent diagnose --only creds,mfa"]
    text = render_text(result)
    assert text.startswith("Not a connector cause:") and "to rule them out on the tenant" in text
    assert "Next: agent diagnose --only creds,mfa" in text
    spoken = explain("AADSTS16000 for a cloud-only account", knowledge)
    assert [m.id for m in spoken.rule_out] == ["creds"]  # a cause the text speaks against is left out
    plain = explain("AADSTS90002: Tenant 'x' not found.", knowledge)
    assert plain.rule_out == [] and plain.next == [] and "rule_out" not in explanation_data(plain)
    assert "rule" not in render_text(plain)


def test_an_unrelated_clue_names_its_kind(toy: Knowledge) -> None:
    result = explain("AADSTS90002: Tenant 'x' not found.", toy)
    assert result.causes == [] and result.other is not None and result.other.id == "wrong-tenant"
    assert explanation_data(result)["other"]["sources"] == ["https://learn.microsoft.com/x"]


def test_a_bad_vocabulary_file_names_the_file_and_entry(tmp_path: Path) -> None:
    bad, unsourced = tmp_path / "v.yaml", tmp_path / "w.yaml"
    bad.write_text("vocabulary: v\ntitle: V\nsource: https://x.test/\nentries:\n"
                   "  - {code: X, text: Y, cause: a}\n")
    unsourced.write_text("vocabulary: w\ntitle: W\nentries:\n  - {code: Z, cause: a}\n")
    with pytest.raises(PlaybookError) as caught:
        load_clues([bad, unsourced], lambda p: yaml.safe_load(p.read_text()))
    lines = caught.value.lines()
    assert any("v.yaml" in line and "entries[0]" in line and "exactly one" in line for line in lines)
    assert any("w.yaml" in line and "entries[0]: no source" in line for line in lines)


@pytest.mark.parametrize("path", vocabulary_files(), ids=lambda p: p.stem)
def test_each_vocabulary_file_loads_alone_with_a_source_for_every_entry(path: Path) -> None:
    """Each file by itself: its clues carry its vocabulary's name and a source, and the shipped knowledge
    holds exactly those clues of it."""
    clues = load_clues([path], lambda p: yaml.safe_load(p.read_text(encoding="utf-8")))
    name = yaml.safe_load(path.read_text(encoding="utf-8"))["vocabulary"]
    assert clues and all(c.vocabulary == name and c.source for c in clues)
    assert [c for c in vocabulary_clues() if c.vocabulary == name] == list(clues)


def test_the_shipped_vocabularies_point_at_known_causes_and_kinds_with_sources() -> None:
    kinds = {e.id for e in unrelated_entries()}
    clues = vocabulary_clues()
    assert vocabulary_files() and clues
    for clue in clues:
        assert clue.target in (kinds if clue.unrelated else set(CAUSES)), clue
        assert set(clue.against) <= set(CAUSES), clue
        assert set(clue.also) <= (set(CAUSES) | kinds) - {clue.target}, clue
        assert re.match(r"https?://|[\w.-]+/[\w.-]+:", clue.source), clue
    for kind in unrelated_entries():
        assert kind.advice.strip(), kind.id
        assert kind.symptoms or any(c.unrelated and c.target == kind.id for c in clues), kind.id


# -- input ---------------------------------------------------------------------------------------------
@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _one_line_exit_2(result: Result) -> str:
    assert result.exit_code == 2
    err = str(result.stderr)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_a_huge_input_is_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    log.write_bytes(b"401 Unauthorized\n" * (MAX_INPUT // 17 + 2))
    assert "larger than 10 MB" in _one_line_exit_2(runner.invoke(app, ["explain", "--file", str(log)]))


def test_an_endless_device_is_read_within_the_limit(runner: CliRunner) -> None:
    err = _one_line_exit_2(runner.invoke(app, ["explain", "--file", "/dev/zero"]))
    assert "larger than 10 MB" in err


def test_binary_input_is_bad_input(runner: CliRunner, tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 8)
    assert "binary" in _one_line_exit_2(runner.invoke(app, ["explain", "--file", str(blob)]))


def test_a_windows_code_page_log_gets_an_answer(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "cp1252.log"
    text = "Fehler: \u201eAADSTS7000222\u201c \u2013 client secret keys for app are expired"
    log.write_bytes(text.encode("cp1252"))
    result = runner.invoke(app, ["explain", "--file", str(log)])
    assert result.exit_code == 0 and result.stdout.startswith("1. app-credentials-invalid")


def test_a_challenge_without_basic_is_read_from_the_text() -> None:
    signals = read_signals("HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Negotiate\nWWW-Authenticate: NTLM")
    assert signals.offered == {"negotiate", "ntlm"}
    causes = (_entry("legacy"),)
    clue = _clue("context", ContextSpec(statuses=[401], offers=["ntlm"], lacks=["basic"]), "legacy", 2.0)
    knowledge = Knowledge(causes, (), (clue,))
    assert [m.id for m in explain("HTTP/1.1 401 Unauthorized\nWWW-Authenticate: NTLM", knowledge).causes] == \
        ["legacy"]
    with_basic = "HTTP/1.1 401 Unauthorized\nWWW-Authenticate: NTLM\nWWW-Authenticate: Basic realm=\"x\""
    assert explain(with_basic, knowledge).causes == []


def test_a_prior_orders_candidates_and_alone_lists_its_cause_weakly() -> None:
    causes = (_entry("site"), _entry("mail"))
    prior = Clue("context", ContextSpec(services=["sharepoint"]), "site", False, 0.3, "https://x.test/", "t",
                 prior=True)
    weak = (_clue("status", 401, "mail", 0.4), _clue("status", 401, "site", 0.4))
    knowledge = Knowledge(causes, (), (prior, *weak))
    alone = explain("https://contoso.sharepoint.com/_api/web", knowledge).causes  # the service named, no more
    assert [m.id for m in alone] == ["site"] and not alone[0].strong
    assert alone[0].evidence == ["context sharepoint: on the vendors' list for this service"]
    ranked = explain("(401) Unauthorized from https://contoso.sharepoint.com/_api/web", knowledge).causes
    assert [m.id for m in ranked] == ["site", "mail"]


def _service_list() -> Knowledge:
    causes = (_entry("creds"), _entry("access"), _entry("legacy"), _entry("licence"))
    priors = tuple(Clue("context", ContextSpec(services=["ews"]), cid, False, weight, "https://x.test/", "t",
                        prior=True) for cid, weight in (("creds", 0.45), ("access", 0.4), ("legacy", 0.35),
                                                        ("licence", 0.3)))
    clues = (_clue("text", "wrong username or password", "creds", 1.5),  # 2.25 points: strong, not decided
             _clue("code", "AADSTS50126", "creds", 3.0),  # 9 points: decided
             _clue("status", 429, "throttling", 0.4, unrelated=True))
    return Knowledge(causes, (_entry("throttling"),), (*priors, *clues))


EWS = "https://outlook.office365.com/EWS/Exchange.asmx"


def test_the_service_list_follows_an_undecided_candidate_up_to_three() -> None:
    ranked = explain(f"Wrong username or password for {EWS}", _service_list()).causes
    assert [m.id for m in ranked] == ["creds", "access", "legacy"]  # the list's order after the candidate
    assert ranked[0].strong and not any(m.strong for m in ranked[1:])
    assert ranked[0].score > ranked[1].score >= ranked[2].score
    result = explain(f"Wrong username or password for {EWS}", _service_list())
    assert [c["strong"] for c in explanation_data(result)["causes"]] == [True, False, False]
    lines = render_text(result).splitlines()
    assert lines[0].startswith("1. creds (confidence") and "weak" not in lines[0]
    assert any(line.startswith("2. access") and "weak: also possible" in line for line in lines)
    assert result.next == ["agent diagnose --only creds,access,legacy"]  # undecided: tell all three apart


def test_a_decided_text_gets_no_list_of_what_else_it_could_be() -> None:
    decided = explain(f"AADSTS50126: wrong username or password for {EWS}", _service_list())
    assert [m.id for m in decided.causes] == ["creds"] and decided.next == ["agent diagnose --only creds"]


def test_a_service_named_alone_lists_its_causes_weakly_unless_anything_else_points() -> None:
    alone = explain(f"The request to {EWS} did not succeed", _service_list()).causes
    assert [m.id for m in alone] == ["creds", "access", "legacy"] and not any(m.strong for m in alone)
    assert explain(f"HTTP 429 from {EWS}", _service_list()).causes == []  # a weak unrelated signal points
    assert explain("The request did not succeed", _service_list()).causes == []  # no service: nothing


def test_a_mailbox_named_without_ews_gets_the_mail_migration_list(shipped: Knowledge) -> None:
    """The vendors' lists are for mailbox migrations, whichever API reaches the mailbox."""
    for text in ("Unable to connect to the mailbox", f"The request to {EWS} did not succeed"):
        listed = explain(text, shipped).causes
        assert [m.id for m in listed][:2] == ["bad-credentials", "exo-app-missing-full-access"], text
        assert len(listed) == 3 and not any(m.strong for m in listed)



# -- topics: what the text speaks of, where nothing else points ------------------------------------------
def _topics() -> Knowledge:
    causes = (_entry("creds"), _entry("mfa"))
    clues = (
        _clue("pattern", r"\bpasswords?\b|\bcredentials?\b", "creds", 0.4, topic=True),
        _clue("pattern", r"\bmfa\b|multi-?factor", "mfa", 0.55, topic=True),
        _clue("code", "AADSTS50126", "creds"),
        _clue("code", "AADSTS50076", "mfa"),
        _clue("text", "certificate verify failed", "tls-trust", 2.0, unrelated=True),
        _clue("status", 429, "throttling", 0.4, unrelated=True),  # weak: it names nothing, it points
        _clue("text", "smart card", "smart-card", 0.3, against=("creds",)),  # a cause the toy does not know
    )
    return Knowledge(causes, (_entry("tls-trust"), _entry("throttling")), clues)


def test_a_topic_lists_its_cause_weakly_where_nothing_else_points() -> None:
    result = explain("Cannot connect. Please check your credentials. Exiting!", _topics())
    assert [m.id for m in result.causes] == ["creds"] and not result.causes[0].strong
    assert result.causes[0].evidence == ['speaks of "credentials"']
    assert render_text(result).startswith("Only generic signals")
    assert explain("The operation was canceled.", _topics()).causes == []  # no topic: still nothing


def test_the_narrower_topic_comes_first() -> None:
    ranked = explain("the password is right, but the account has multi-factor turned on", _topics()).causes
    assert [m.id for m in ranked] == ["mfa", "creds"]


def test_a_topic_never_counts_where_anything_else_points() -> None:
    coded = explain("AADSTS50076: you must use multi-factor; the password was accepted", _topics())
    assert [m.id for m in coded.causes] == ["mfa"]
    assert not any(e.startswith("speaks of") for e in coded.causes[0].evidence)
    tls = explain("certificate verify failed while sending the password", _topics())
    assert tls.causes == [] and tls.other is not None and tls.other.id == "tls-trust"
    weak = explain("HTTP 429 again; the password is fine", _topics())  # a weak unrelated pointer is a pointer
    assert weak.causes == [] and weak.other is None
    against = explain("a smart card is required: check your credentials", _topics())  # against: a pointer
    assert against.causes == []


@pytest.mark.parametrize("entry", [
    "{code: X, cause: a, topic: true}",  # a topic is a word or a pattern, not an identifier
    "{text: password, cause: a, topic: true, prior: true}",
])
def test_a_topic_is_only_a_text_or_a_pattern_and_nothing_else(tmp_path: Path, entry: str) -> None:
    bad = tmp_path / "v.yaml"
    bad.write_text(f"vocabulary: v\ntitle: V\nsource: https://x.test/\nentries:\n  - {entry}\n")
    with pytest.raises(PlaybookError) as caught:
        load_clues([bad], lambda p: yaml.safe_load(p.read_text()))
    assert any("topic: only for a text or a pattern" in line for line in caught.value.lines())


# -- an unrelated kind against the causes, and among its peers -------------------------------------------
def test_weak_signals_do_not_outweigh_a_specific_unrelated_signal() -> None:
    """A bare status and service contexts are shared by every reading of the text: only strong signals count
    when an unrelated kind is weighed against a cause."""
    causes = (_entry("creds"),)
    clues = (
        _clue("text", "sign-in failed", "creds", 1.0),  # 1.5 points: the cause's one strong signal
        _clue("status", 401, "creds", 1.0),  # 0.5 points each: weak
        _clue("context", ContextSpec(services=["sharepoint"]), "creds", 0.5),
        _clue("context", ContextSpec(services=["graph"]), "creds", 0.5),
        _clue("context", ContextSpec(services=["identity"]), "creds", 0.5),
        _clue("text", "tunnel connection failed", "proxy", 1.5, unrelated=True),  # 2.25 points
    )
    knowledge = Knowledge(causes, (Entry("proxy", "Proxy", "Check the proxy.", ()),), clues)
    text = ("sign-in failed: 401 Unauthorized for https://contoso.sharepoint.com/_api/web via "
            "https://graph.microsoft.com and https://login.microsoftonline.com: Tunnel connection failed")
    (creds,) = explain(text.replace(": Tunnel connection failed", ""), knowledge).causes
    assert creds.score > 2.25 and creds.specific == pytest.approx(1.5)  # the weak signals add up to more
    result = explain(text, knowledge)
    assert result.causes == [] and result.other is not None and result.other.id == "proxy"
    strong = Knowledge(causes, knowledge.unrelated, (*clues, _clue("code", "AADSTS50126", "creds", 1.0)))
    assert [m.id for m in explain(f"{text} AADSTS50126", strong).causes] == ["creds"]  # 4.5 strong points


def test_the_most_specific_signal_names_the_unrelated_kind() -> None:
    """Transport errors nest (a retry error around a connection error around the resolver's reason): the
    wrappers are shared by several kinds and add up, the reason is specific and names the kind."""
    kinds = (Entry("dns", "DNS", "Check DNS.", ()), Entry("network", "Network", "Check the network.", ()))
    clues = (
        _clue("text", "max retries exceeded", "network", 1.0, unrelated=True),
        _clue("text", "failed to establish a new connection", "network", 1.0, unrelated=True),
        _clue("exception", "NewConnectionError", "network", 1.0, unrelated=True),
        _clue("text", "getaddrinfo failed", "dns", 2.0, unrelated=True),
    )
    text = ("HTTPSConnectionPool(host='login.microsoftonline.com', port=443): Max retries exceeded with url: "
            "/ (Caused by NewConnectionError('Failed to establish a new connection: [Errno 11001] "
            "getaddrinfo failed'))")
    result = explain(text, Knowledge((), kinds, clues))
    assert result.other is not None and result.other.id == "dns"
    assert result.other.score < 5.0  # the wrappers' 1.5 + 1.5 + 2.0 score more, yet do not name the kind


def test_a_class_named_without_error_or_exception_is_matched_as_a_word() -> None:
    """httpx's ReadTimeout and exchangelib's AutoDiscoverFailed are exception classes whose names lack the
    usual suffix: they count where the text names them, and not for the same words written apart."""
    from agent.explain.signals import match_exception

    timed_out = read_signals("httpx.ReadTimeout: The read operation timed out")
    assert match_exception("ReadTimeout", timed_out) and match_exception("httpx.ReadTimeout", timed_out)
    assert match_exception("ConnectTimeout", timed_out) is None
    assert match_exception("ReadTimeout", read_signals("a read timeout occurred")) is None
    failed = read_signals("exchangelib.errors.AutoDiscoverFailed: All steps in the autodiscover protocol")
    assert match_exception("AutoDiscoverFailed", failed)
    assert match_exception("ErrorAccessDeniedException", read_signals("ErrorAccessDenied")) is None


@pytest.mark.parametrize("text", [
    # Kiota's request adapters (microsoft/kiota-dotnet, kiota-http-go, kiota-abstractions-ruby)
    "ApiException: The server returned an unexpected status code and no error factory is registered for this "
    "code: 401",
    "The server returned an unexpected status code and no error factory is registered for this code:401",
    "the server returned an unexpected status code with no response body: 401",
    # Kiota for Python's APIError, before and since 1.16
    "APIError\n        Code: 401\n        message: None\n        error: MainError(code='InvalidToken')",
    "Access token is empty. (status 401)",
])
def test_kiota_names_the_status_it_has_no_error_mapping_for(text: str) -> None:
    assert read_signals(text).statuses == {401}


@pytest.mark.parametrize(("text", "status"), [
    ("Forbidden (403): Insufficient privileges to complete the operation", 403),  # PnP / Graph PowerShell
    ("the access to the source account is forbidden(403).", 403),
    ("Unauthorized (401): the token is expired", 401),
])
def test_a_status_after_its_reason_phrase_is_read(text: str, status: int) -> None:
    assert read_signals(text).statuses == {status}


def test_a_number_in_brackets_after_other_words_is_no_status() -> None:
    assert read_signals("Request denied (401 users affected)").statuses == set()
    assert read_signals("retry later (429)").statuses == set()


@pytest.mark.parametrize(("text", "cause"), [
    ("Cannot connect. Please check your credentials.", "bad-credentials"),
    ("the service account has MFA turned on and the job stops", "mfa-blocks-service-account"),
    ("the user has no licence for this", "account-unlicensed"),
    ("the app has no impersonation rights on these mailboxes", "exo-app-missing-full-access"),
    ("no such site on that tenant", "target-site-missing"),
    ("the account was locked after the password change", "bad-credentials"),
])
def test_the_shipped_topics_name_their_subjects(text: str, cause: str) -> None:
    result = explain(text)
    assert result.causes and result.causes[0].id == cause and not result.causes[0].strong


@pytest.mark.parametrize("text", ["invalid login", "Login failed.", "Authentication Failed.", "logon failure",
                                  "login incorrect"])
def test_a_failed_sign_in_in_general_words_lists_its_causes_weakly(shipped: Knowledge, text: str) -> None:
    """The vendors' order for a failed sign-in: the password, then MFA, then SSO."""
    listed = explain(text, shipped).causes
    sign_in = ["bad-credentials", "mfa-blocks-service-account", "sso-federated-account"]
    assert [m.id for m in listed] == sign_in
    assert not any(m.strong for m in listed)
    tls = "Authentication failed because the remote party has closed the transport stream."
    assert explain(tls, shipped).causes == []  # a TLS failure's own words point elsewhere: no topic counts


def test_a_graph_call_named_alone_gets_the_missing_consent_weakly(shipped: Knowledge) -> None:
    """Graph's authorization errors page: a refused call is most often the app's permission or consent."""
    listed = explain("Request to https://graph.microsoft.com/v1.0/users did not succeed", shipped).causes
    assert [m.id for m in listed] == ["app-not-installed"] and not listed[0].strong
    throttled = "https://graph.microsoft.com/v1.0/users returned 429 Too Many Requests"
    assert explain(throttled, shipped).causes == []


def test_an_imap_or_pop_password_login_on_exchange_online_is_retired_basic(shipped: Knowledge) -> None:
    """IMAP's LOGIN and POP's USER/PASS send the password in plain; Exchange Online no longer accepts them."""
    signals = read_signals("imaplib.IMAP4.error: b'LOGIN failed.' (outlook.office365.com:993)")
    assert "mail" in signals.services and "basic" in signals.schemes and signals.cloud == "online"
    cause_first(explain("imaplib.IMAP4.error: b'LOGIN failed.' (outlook.office365.com:993)", shipped),
                "legacy-auth-disabled")
    oauth = read_signals("imaplib.IMAP4.error: b'AUTHENTICATE failed.' XOAUTH2 outlook.office365.com")
    assert "basic" not in oauth.schemes  # OAuth over IMAP is not the retired scheme
    assert "mail" not in read_signals("a dialog may pop up").services


def test_a_mailbox_password_login_with_no_host_puts_retired_basic_first(shipped: Knowledge) -> None:
    """No host named: the connectors reach Exchange Online, where Basic is off whatever the password; a wrong
    password (where Basic is still on) follows. A host of Microsoft 365 or of one's own decides instead."""
    text = ('imap_tools.errors.MailboxLoginError: Response status "OK" expected, but "NO" received. '
            "LOGIN failed.")
    assert read_signals(text).cloud is None
    listed = [m.id for m in explain(text, shipped).causes]
    assert listed[:2] == ["legacy-auth-disabled", "bad-credentials"]
    onprem = ("exchangelib.errors.UnauthorizedError: Wrong username or password for "
              "https://mail.example.org/EWS/Exchange.asmx (Basic)")
    assert read_signals(onprem).cloud == "onprem"
    evidence = [e for m in explain(onprem, shipped).causes for e in m.evidence]
    assert not any("no host named" in e for e in evidence)
    oauth = "imaplib.IMAP4.error: b'AUTHENTICATE failed.' XOAUTH2"
    assert not any("no host named" in e for m in explain(oauth, shipped).causes for e in m.evidence)


# -- a symptom of one surface ------------------------------------------------------------------------------
def test_a_site_s_status_holds_for_sharepoint_or_no_service_but_not_for_another_service() -> None:
    site = _entry("no-full-control", {"status": 403, "weight": 0.3, "services": ["sharepoint", "onedrive"]})
    knowledge = Knowledge((site,))
    assert [m.id for m in explain("(403) Forbidden", knowledge).causes] == ["no-full-control"]
    on_site = "(403) Forbidden https://contoso.sharepoint.com/sites/hr/_api/web"
    assert [m.id for m in explain(on_site, knowledge).causes] == ["no-full-control"]
    assert explain("(403) Forbidden GET https://graph.microsoft.com/v1.0/me/memberOf", knowledge).causes == []


def test_the_shipped_site_causes_leave_a_graph_directory_403_to_the_app_s_permission() -> None:
    text = "java.io.IOException: Server returned HTTP response code: 403 for URL: https://graph.microsoft.com/v1.0/me"
    ranked = [m.id for m in explain(text).causes]
    assert ranked[0] == "app-not-installed"
    assert not {"no-full-control", "not-site-collection-admin", "no-onedrive-access"} & set(ranked)


def test_a_symptom_names_only_known_services() -> None:
    with pytest.raises(ValueError, match="services"):
        Symptom.model_validate({"status": 403, "services": ["sharepiont"]})

