"""agent explain: signals read from real error texts, ranking, the labelled corpus, the command, its speed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agent.cli.main import app
from agent.engine.core import Engine, EngineSettings
from agent.errors import BadInput, PlaybookError
from agent.explain.answer import explanation_data, render_text
from agent.explain.knowledge import Entry, Knowledge, unrelated_entries
from agent.explain.paste import decode, read_input
from agent.explain.rank import explain, knowledge_from_playbooks, load_knowledge, rank_causes
from agent.explain.signals import read_signals
from agent.playbook.schema import Symptom
from tests.explain import corpus_measure
from tests.fakes import ToyPlaybook

CORPUS = Path(__file__).resolve().parents[1] / "data" / "errors" / "corpus.yaml"
CAUSES = ("exo-app-missing-full-access", "bad-credentials", "mfa-blocks-service-account",
          "sso-federated-account", "account-unlicensed", "legacy-auth-disabled", "app-credentials-invalid",
          "app-certificate-missing", "no-onedrive-access", "app-not-installed", "not-site-collection-admin",
          "target-site-missing", "no-full-control")
HEAVY = ("msgraph", "azure", "exchangelib", "office365", "uvicorn", "kiota_abstractions", "msal")


def symptoms(*items: dict[str, Any]) -> tuple[Symptom, ...]:
    return tuple(Symptom.model_validate(item) for item in items)


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return items


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture
def toy_knowledge() -> Knowledge:
    """Two causes sharing a code with different weights, a weak generic one, and one unrelated error."""
    causes = (
        Entry("creds", "Wrong password", "Reset it.", symptoms(
            {"code": "AADSTS50126", "weight": 3}, {"text": "invalid username or password", "weight": 2},
            {"status": 401, "weight": 0.2})),
        Entry("federated", "Federated domain", "Use a cloud account.", symptoms(
            {"code": "AADSTS50126", "weight": 1}, {"pattern": "adfs/services/trust", "weight": 5})),
        Entry("generic", "Anything", "Probe.", symptoms(
            {"text": "(401) Unauthorized", "weight": 0.3}, {"status": 401, "weight": 0.2})),
        Entry("ews-grant", "EWS role", "Grant it.", symptoms(
            {"header": "x-ms-diagnostics: 2000008", "weight": 2}, {"exception": "UnauthorizedError"})),
    )
    unrelated = (Entry("tls", "TLS trust", "Trust the CA.", symptoms(
        {"code": "CERTIFICATE_VERIFY_FAILED", "weight": 3}, {"status": 401, "weight": 0.2})),)
    return Knowledge(causes, unrelated)


# -- signals -------------------------------------------------------------------------------------------
def test_signals_read_codes_statuses_and_exceptions_through_json_escaping() -> None:
    raw = ('azure.core.exceptions.ClientAuthenticationError: \'Authentication failed\\nContent: '
           '{\\"error\\":\\"invalid_grant\\",\\"error_codes\\":[50126,50053],'
           '\\"error_description\\":\\"AADSTS50126: x\\\\r\\\\nTrace ID: 1\\"}\' e.response.status_code: 400')
    signals = read_signals(raw)
    assert {"aadsts50126", "aadsts50053", "invalid_grant"} <= signals.codes
    assert signals.statuses == {400}
    assert "clientauthenticationerror" in signals.exceptions
    assert "trace id: 1" in signals.flat  # the escaped \r\n became whitespace


@pytest.mark.parametrize("text, status", [
    ("The remote server returned an error: (401) Unauthorized.", 401),
    ("HTTP/1.1 403 Forbidden", 403),
    ("ODataError status=429 code='TooManyRequests'", 429),
    ('{"statusCode": 400, "headers": {}}', 400),
    ("Too many requests (status 429)", 429),
    ("HTTP 401 from https://host/EWS/Exchange.asmx", 401),
    ("requests.exceptions.HTTPError: 404 Client Error: Not Found for url", 404),
    ("Get Token request returned http error: 401 and server response", 401),
])
def test_http_status_is_read_from_every_common_shape(text: str, status: int) -> None:
    assert status in read_signals(text).statuses


def test_sharepoint_code_pair_and_soap_response_code_are_split_into_codes() -> None:
    sp = read_signals("code='-2147024891, System.UnauthorizedAccessException' message='Access denied.'")
    assert {"-2147024891", "system.unauthorizedaccessexception"} <= sp.codes
    soap = read_signals("<m:ResponseCode>ErrorNonExistentMailbox</m:ResponseCode>")
    assert "errornonexistentmailbox" in soap.codes


def test_url_encoded_msal_text_is_decoded() -> None:
    raw = "MSALErrorDescriptionKey=AADSTS500011:+The+resource+principal+named+https://x+was+not+found"
    assert "the resource principal named" in read_signals(raw).flat


# -- ranking -------------------------------------------------------------------------------------------
def test_exact_code_outranks_the_same_code_with_lower_weight(toy_knowledge: Knowledge) -> None:
    result = explain("AADSTS50126: Error validating credentials due to invalid username or password.",
                     toy_knowledge)
    assert [m.id for m in result.causes] == ["creds", "federated"]
    assert result.causes[0].confidence > result.causes[1].confidence > 0
    assert result.causes[0].evidence == ["code AADSTS50126", 'text "invalid username or password"']


def test_phrase_and_pattern_can_beat_a_shared_code(toy_knowledge: Knowledge) -> None:
    text = "AADSTS50126 from https://sts.contoso.com/adfs/services/trust/2005/usernamemixed"
    assert [m.id for m in explain(text, toy_knowledge).causes] == ["federated", "creds"]


def test_weak_only_signals_list_every_possible_cause_with_low_confidence(toy_knowledge: Knowledge) -> None:
    result = explain("The remote server returned an error: (401) Unauthorized.", toy_knowledge)
    assert [m.id for m in result.causes] == ["generic", "creds"]
    assert all(m.confidence < 0.2 for m in result.causes)
    assert result.other is None
    text = render_text(result)
    assert text.startswith("Only generic signals") and "Advice for" not in text


def test_a_strong_cause_hides_weak_only_ones(toy_knowledge: Knowledge) -> None:
    result = explain("(401) Unauthorized; AADSTS50126", toy_knowledge)
    assert "generic" not in [m.id for m in result.causes]


def test_unrelated_error_replaces_causes_it_explains_better(toy_knowledge: Knowledge) -> None:
    result = explain("(401) Unauthorized [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
                     toy_knowledge)
    assert result.causes == [] and result.other is not None and result.other.id == "tls"
    data = explanation_data(result)
    assert data["causes"] == [] and data["other"]["kind"] == "tls"
    assert "Not a connector cause: TLS trust" in render_text(result)


def test_an_outweighed_unrelated_error_is_still_named_beside_the_causes(knowledge: Knowledge) -> None:
    """A decisive sign-in text outweighs a TLS failure in the same log; the TLS failure is shown, not lost."""
    text = ("Connect-PnPOnline : The remote certificate is invalid according to the validation procedure. "
            "The sign-in name or password does not match one in the Microsoft account system.")
    result = explain(text, knowledge)
    assert result.causes[0].id == "bad-credentials" and result.other is None
    assert result.also is not None and result.also.id == "tls-trust"
    assert explanation_data(result)["also"]["kind"] == "tls-trust"
    assert "Also in the text, not a connector cause: TLS" in render_text(result)
    clean = explain(text.split(". ", 1)[1], knowledge)
    assert clean.also is None and "also" not in explanation_data(clean)


def test_an_access_denied_while_a_site_template_is_applied_names_the_custom_script_setting_too(
        knowledge: Knowledge) -> None:
    """Microsoft's custom script page: NoScript sites refuse what a template writes; the account's rights
    are as likely, so the causes stay and the setting is shown beside them."""
    text = "Invoke-PnPSiteTemplate : Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))"
    result = explain(text, knowledge)
    assert result.causes[0].id == "not-site-collection-admin"
    assert result.also is not None and result.also.id == "custom-script-blocked"
    assert "-DenyAddAndCustomizePages 0" in render_text(result)
    plain = explain(text.replace("Invoke-PnPSiteTemplate", "Add-PnPListItem"), knowledge)
    assert plain.causes and plain.also is None


def test_an_access_denied_on_a_property_bag_write_names_the_custom_script_setting_too(
        knowledge: Knowledge) -> None:
    """Microsoft's custom script page: a NoScript site refuses property bag writes unless the tenant allows
    them; with a code for the account's rights the causes stay first and the setting is shown beside."""
    text = ("Set-PnPPropertyBagValue : Access is denied. (Exception from HRESULT: 0x80070005 "
            "(E_ACCESSDENIED))")
    result = explain(text, knowledge)
    assert result.causes[0].id == "not-site-collection-admin"
    assert result.also is not None and result.also.id == "custom-script-blocked" and not result.reading
    assert "AllowWebPropertyBagUpdateWhenDenyAddAndCustomizePagesIsEnabled" in render_text(result)
    plain = explain(text.replace("Set-PnPPropertyBagValue", "Add-PnPListItem"), knowledge)
    assert plain.causes and plain.also is None


def test_a_code_whose_own_message_names_the_wrong_tenant_shows_it_beside_the_cause(
        knowledge: Knowledge) -> None:
    """The Entra reference's AADSTS700016: not installed, or sent to the wrong tenant; the first is a cause
    to probe, the second is shown beside it with its advice."""
    result = explain("AADSTS700016: Application with identifier '00000000-0000-0000-0000-000000000001' was "
                     "not found in the directory 'contoso.onmicrosoft.com'.", knowledge)
    assert result.causes[0].id == "app-not-installed" and result.other is None
    assert result.reading and result.also is not None and result.also.id == "wrong-tenant"
    assert "Also possible, not a connector cause: The tenant id or domain is wrong" in render_text(result)
    assert explain("AADSTS50126: Error validating credentials due to invalid username or password.",
                   knowledge).also is None


def test_nothing_matches_gives_an_empty_answer(toy_knowledge: Knowledge) -> None:
    result = explain("The printer is on fire", toy_knowledge)
    assert explanation_data(result) == {"causes": []}
    assert "No known cause matches" in render_text(result)


def test_headers_match_in_repr_and_lines_and_evidence_masks_secrets(toy_knowledge: Knowledge) -> None:
    text = ("UnauthorizedError: HTTP 401; x-ms-diagnostics='2000008;reason=\"no permissions\"'\n"
            "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
    best = explain(text, toy_knowledge).causes[0]
    assert best.id == "ews-grant"
    assert any(e.startswith("header x-ms-diagnostics='2000008") for e in best.evidence)
    assert "exception UnauthorizedError" in best.evidence
    leaky = explain("x-ms-diagnostics: 2000008 client_secret=hunter2-secret-value", toy_knowledge)
    assert "hunter2" not in json.dumps(explanation_data(leaky))


def test_rank_causes_puts_pointed_at_causes_first_keeping_the_rest_in_order(toy_knowledge: Knowledge) -> None:
    candidates = ["generic", "ews-grant", "federated", "creds"]
    ranked = rank_causes("AADSTS50126", candidates, toy_knowledge)
    assert ranked == ["creds", "federated", "generic", "ews-grant"]
    assert rank_causes("nothing known", candidates, toy_knowledge) == candidates
    others = ["ews-grant", "unknown-id"]
    assert rank_causes("AADSTS50126", others, toy_knowledge) == others


# -- knowledge -----------------------------------------------------------------------------------------
def test_knowledge_comes_from_the_playbooks_and_the_shipped_unrelated_list(knowledge: Knowledge) -> None:
    ids = {e.id for e in knowledge.causes}
    assert ids and ids <= set(CAUSES)
    kinds = {e.id for e in unrelated_entries()}
    assert {"wrong-tenant", "invalid-scope", "redirect-uri-mismatch", "clock-skew", "tls-trust", "proxy",
            "throttling", "wrong-endpoint", "dns"} <= kinds
    assert all(e.advice for e in unrelated_entries())  # their matches may live in the vocabularies


def test_a_playbook_with_a_bad_symptom_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: broken\nsymptoms:\n  - code: X\n    text: Y\n")
    with pytest.raises(PlaybookError) as caught:
        load_knowledge([tmp_path])
    assert "broken.yaml" in str(caught.value) and "exactly one" in str(caught.value)


def test_custom_playbook_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(textwrap.dedent("""\
        id: my-cause
        title: Mine
        advice: Do it.
        symptoms:
          - text: "flux capacitor"
        """))
    result = explain("the flux capacitor failed", load_knowledge([tmp_path]))
    assert [m.id for m in result.causes] == ["my-cause"]


# -- the corpus ----------------------------------------------------------------------------------------
FAMILIES = {"github-issue", "vendor-kb", "qa-page", "library-source", "microsoft-docs", "blog"}
# Floors on the frozen test part (tests/data/errors/README.md): knowledge is written from vocabularies and
# checked on the dev part only; these floors catch a regression, they are not the goal (85/95/80).
# Measured on the current test part (231 of 643 items: 114 cause, 117 unrelated): 0.80, 0.87, 0.64 (91 and 99
# of 114, 75 of 117), after the rounds fresh-31 to fresh-41 (53 items, unseen: 7 and 8 of 13, 22 of 40); 22
# of them were then moved to dev to study their misses. The 200 items before them read 88 and 95 of 109, 58
# of 91 on the final knowledge (87, 94, 58 before it).
# Before them (200 of 590 items: 109 cause, 91 unrelated): 0.80, 0.86, 0.64 (87 and 94
# of 109, 58 of 91), after the rounds fresh-29 and fresh-30 (10 items, unseen: 1 and 1 of 2, 7 of 8); the
# rounds fresh-24 to fresh-28 (28 items, unseen: 5 and 6 of 10, 11 of 18) were then moved to dev.
# Before them, on 190 of 552 items (107 cause, 83 unrelated): 0.80, 0.87, 0.61 (86 and 93 of 107, 51 of
# 83), after the rounds fresh-20 to fresh-23 (31 items, unseen: 13 and 14 of 14, 12 of 17).
# Before them, on 159 of 509 items (90 cause, 69 unrelated): 0.78, 0.84, 0.58 (70 and 76 of 90, 40 of 69);
# the same items on the knowledge before the rounds fresh-6 to fresh-15: 0.76, 0.83, 0.58.
# Earlier, on a test part of 154 items (93 cause, 61 unrelated), of which 26 were collected after
# the knowledge they are measured on (batch fresh-3): 0.74, 0.82, 0.51 (69 and 76 of 93, 31 of 61); the 26
# alone 6 and 8 of 11, 7 of 15 (5, 6 and 7 on the knowledge before that round). The batch before it (fresh-2:
# 7 and 9 of 14, 6 of 15, unseen) was then moved to dev to study its misses. On the earlier 131 items: 0.77,
# 0.83, 0.54; on 103: 0.77, 0.84, 0.59 with the service's list, 0.72, 0.74, 0.62 before the topic words and
# that list.
# Measured on the earlier test part (105 items): 0.71, 0.73, 0.60 (50 and 51 of 70 cause items, 21 of 35
# unrelated); 0.70, 0.71, 0.60 before the generic-401 prior and the suffix-less exception classes. On the
# earlier 75-item part: 0.71, 0.73, 0.50; before the migration-tool, status and word-signal vocabularies
# 0.64, 0.65, 0.43.
TEST_TOP1, TEST_TOP3, TEST_UNRELATED = 0.77, 0.84, 0.58


def _expected(item: dict[str, Any]) -> list[str]:
    return corpus_measure.expected_of(item)


def test_corpus_is_labelled_sourced_and_split_by_thread(corpus: list[dict[str, Any]]) -> None:
    assert len(corpus) >= 250
    for item in corpus:
        assert item["text"].strip() and str(item["source"]).strip() and item["thread"], item
        assert set(_expected(item)) <= set(CAUSES), item
        assert item["family"] in FAMILIES and item["split"] in ("dev", "test"), item
    per_cause = Counter(cause for item in corpus for cause in _expected(item))
    assert all(per_cause[cause] >= 10 for cause in CAUSES), per_cause
    assert sum(1 for item in corpus if item["expected"] is None) >= 30
    assert len({item["family"] for item in corpus}) >= 5
    splits: dict[str, set[str]] = {}
    for item in corpus:
        splits.setdefault(item["thread"], set()).add(item["split"])
    assert all(len(s) == 1 for s in splits.values()), "a thread on both sides of the split"
    by_rule = []
    for item in corpus[94:]:  # the rule decided the split, not a person (the first 94 are dev) ...
        digest = int(hashlib.sha1(item["thread"].encode("utf-8")).hexdigest()[:8], 16)
        rule = "test" if digest % 10 < 5 else "dev"
        by_rule.append(rule)
        # ... but a test item whose thread was read after all goes to dev, and says so
        assert item["split"] == ("dev" if item.get("seen") else rule), item["thread"]
        assert not item.get("seen") or rule == "test", item["thread"]
    assert all(item["split"] == "dev" and not item.get("seen") for item in corpus[:94])
    assert by_rule.count("test") >= 0.3 * len(corpus)
    assert sum(1 for item in corpus if item["split"] == "test") >= 0.3 * len(corpus)


def test_corpus_floors_on_the_frozen_test_part(corpus: list[dict[str, Any]], knowledge: Knowledge) -> None:
    tallies = corpus_measure.measure(corpus, knowledge)
    for key in ("split:dev", "split:test"):
        print(f"\n{tallies[key].line(key)}", end="")
    test = tallies["split:test"]
    assert test.causes >= 39 and test.unrelated >= 10
    # counts only: a failure must not print the held-out items (their texts or sources)
    assert test.top1_rate >= TEST_TOP1, f"{test.top1} of {test.causes}"
    assert test.top3_rate >= TEST_TOP3, f"{test.top3} of {test.causes}"
    assert test.unrelated_rate >= TEST_UNRELATED, f"{test.not_a_cause} of {test.unrelated}"


def test_a_collection_round_is_measured_on_its_own(knowledge: Knowledge) -> None:
    items = [
        {"expected": "bad-credentials", "text": "AADSTS50126: Error validating credentials due to invalid "
         "username or password.", "split": "test", "family": "github-issue", "batch": "fresh-1"},
        {"expected": None, "other": "throttling", "text": "HTTP 429 Too Many Requests, Retry-After: 30",
         "split": "test", "family": "github-issue", "batch": "fresh-1"},
        {"expected": "bad-credentials", "text": "AADSTS50126", "split": "dev", "family": "github-issue"},
    ]
    tallies = corpus_measure.measure(items, knowledge)
    fresh = tallies["batch:fresh-1"]
    assert (fresh.causes, fresh.top1, fresh.unrelated, fresh.not_a_cause) == (1, 1, 1, 1)
    assert tallies["split:test"].causes == 1 and tallies["all"].causes == 2


# -- the command ---------------------------------------------------------------------------------------
@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_explain_text_argument_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "-o", "json", "AADSTS50126: Error validating credentials due to "
                                 "invalid username or password."])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    best = data["causes"][0]
    assert best["id"] == "bad-credentials" and 0 < best["confidence"] <= 1
    assert "code AADSTS50126" in best["evidence"] and best["next"] == "agent diagnose --only bad-credentials"
    assert [c["confidence"] for c in data["causes"]] == sorted((c["confidence"] for c in data["causes"]),
                                                                reverse=True)


def test_explain_reads_a_utf16_log_file_and_prints_advice(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "connector.log"
    log.write_bytes("x-ms-diagnostics: 2000008;reason=\"The token contains no permissions, or permissions "
                    "can not be understood.\"".encode("utf-16"))
    result = runner.invoke(app, ["explain", "--file", str(log)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1. exo-app-missing-full-access")
    assert "Advice for exo-app-missing-full-access:" in result.stdout


@pytest.mark.parametrize("argv", [["explain", "-"], ["explain"]])
def test_explain_reads_standard_input(runner: CliRunner, argv: list[str]) -> None:
    result = runner.invoke(app, [*argv, "-o", "json"], input="[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                                                              "verify failed")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["causes"] == [] and data["other"]["kind"] == "tls-trust"


@pytest.mark.parametrize("argv, message", [
    (["explain", "   "], "the error text is empty"),
    (["explain", "--file", "/nonexistent/x.log"], "cannot read /nonexistent/x.log"),
    (["explain", "text", "--file", "x.log"], "not both"),
])
def test_explain_bad_input_is_one_line_and_exit_2(runner: CliRunner, argv: list[str], message: str) -> None:
    result = runner.invoke(app, argv, input="")
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_read_input_without_anything_on_a_terminal_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no error text"), open(os.devnull, "rb") as stdin:
        read_input(None, None, stdin, stdin_is_tty=True)
    assert decode(b"\xef\xbb\xbfAADSTS1") == "AADSTS1"


def test_explain_loads_no_client_library_and_is_quick() -> None:
    """A subprocess with -X importtime: none of the client libraries (or the simulator's server) loads."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "agent", "explain",
                           "The remote server returned an error: (401) Unauthorized. AADSTS50076"],
                          capture_output=True, text=True, env=env, timeout=60)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("1. mfa-blocks-service-account")
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
              if line.startswith("import time:")}
    assert loaded and not loaded & set(HEAVY), loaded & set(HEAVY)
    print(f"\nagent explain in a subprocess (with -X importtime overhead): {elapsed:.2f}s")


# -- diagnose: the error text seeds the order detectors start in --------------------------------------------
class _Hinted(ToyPlaybook):
    """A toy playbook that also carries symptoms, as agent.playbook.load.Playbook does."""

    def __init__(self, pid: str, detector: Any, symptoms_: tuple[Symptom, ...]) -> None:
        super().__init__(pid, detector)
        self.symptoms = symptoms_
        self.title = pid


async def test_engine_starts_the_detectors_the_error_text_points_at_first(
        toy_world: Any, journal: Any, toy_config_path: Path) -> None:
    from agent.config.load import load_config
    from tests.fakes import ToyAdminMissing, ToyAlwaysFound, ToyLicenceMissing

    order: list[str] = []

    def recording(cls: Any) -> Any:
        class Recording(cls):
            async def detect(self, ctx: Any) -> Any:
                order.append(ctx.cause)
                return await super().detect(ctx)
        return Recording

    books = [
        _Hinted("a-licence", recording(ToyLicenceMissing), symptoms({"code": "ErrorNonExistentMailbox"})),
        _Hinted("b-admin", recording(ToyAdminMissing), symptoms({"text": "not a site collection admin"})),
        _Hinted("c-federated", recording(ToyAlwaysFound), symptoms({"text": "Federated service at"})),
    ]

    def engine(hints: dict[str, str] | None) -> Engine:
        return Engine(load_config(toy_config_path), books, journal, toy_world.factory,
                      settings=EngineSettings(concurrency=1), hints=hints)

    await engine(None).diagnose("mail1")
    assert order == ["a-licence", "b-admin", "c-federated"]
    order.clear()
    await engine({"mail1": "MsalServiceException: Federated service at https://sts/adfs returned error"}
                 ).diagnose("mail1")
    assert order == ["c-federated", "a-licence", "b-admin"]
    assert knowledge_from_playbooks(books).causes[2].symptoms[0].kind == "text"
    order.clear()
    # no hints given: the connector's own failing sign-in seeds the order
    toy_world.probe_error = "403 Access denied: the account is not a site collection admin"
    await engine(None).diagnose("mail1")
    assert order == ["b-admin", "a-licence", "c-federated"]


def test_the_corpus_broad_unrelated_labels_take_their_narrower_kinds() -> None:
    assert corpus_measure.right_kind("network", "dns")
    assert corpus_measure.right_kind("network", "network-timeout")
    assert corpus_measure.right_kind("service-error", "service-outage")
    assert corpus_measure.right_kind("throttling", "throttling")
    assert not corpus_measure.right_kind("network", "throttling")
    assert not corpus_measure.right_kind("dns", "network") and not corpus_measure.right_kind(None, "dns")
    kinds = {e.id for e in unrelated_entries()}
    assert all(narrow <= kinds for narrow in corpus_measure.BROAD_KINDS.values())


def test_a_bare_401_puts_the_wrong_password_first_as_the_vendors_list_it(knowledge: Knowledge) -> None:
    """Only generic signals: the causes stay weak candidates, in the vendors' order for a generic 401."""
    result = explain("The remote server returned an error: (401) Unauthorized.", knowledge)
    assert result.causes[0].id == "bad-credentials" and not any(m.strong for m in result.causes)
    # every cause fits a bare 401: the likeliest three are shown, the rest counted, and all are probed
    assert len(result.causes) == 3 and result.more == len(knowledge.causes) - 3
    assert result.next == ["agent diagnose"]
    data = explanation_data(result)
    assert data["more"] == result.more and data["next"] == ["agent diagnose"]
    assert f"... and {result.more} more causes" in render_text(result)


def test_the_next_step_confirms_one_cause_and_tells_several_apart(knowledge: Knowledge) -> None:
    one = render_text(explain("AADSTS7000215: Invalid client secret provided.", knowledge))
    assert "Next, to confirm it on the tenant: agent diagnose --only app-credentials-invalid" in one
    several = render_text(explain("The remote server returned an error: (401) Unauthorized.", knowledge))
    assert "Next, to tell them apart on the tenant: agent diagnose\n" in several


def test_a_list_of_strong_candidates_is_not_cut(knowledge: Knowledge) -> None:
    """The cut applies to generic signals only: a decided code keeps its list and its --only."""
    text = "AADSTS50126: Error validating credentials due to invalid username or password."
    result = explain(text, knowledge)
    assert result.more == 0 and result.next[0].startswith("agent diagnose --only bad-credentials")
