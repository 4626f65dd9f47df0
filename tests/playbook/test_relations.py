"""Relations between causes: the shipped catalogue's relations, cycle finding and fix ordering."""

from __future__ import annotations

from agent.playbook.load import load_playbooks
from agent.playbook.relations import find_cycle, fix_order

# Every relation the shipped playbooks declare; each one's reason is in the playbook (`why:`).
SHIPPED = {
    ("bad-credentials", "masked_by", "sso-federated-account"),
    ("bad-credentials", "masked_by", "legacy-auth-disabled"),
    ("account-unlicensed", "masked_by", "bad-credentials"),
    ("mfa-blocks-service-account", "masked_by", "bad-credentials"),
    ("exo-app-missing-full-access", "implied_by", "app-not-installed"),
    ("app-credentials-invalid", "after", "app-not-installed"),
    ("app-certificate-missing", "after", "app-not-installed"),
    ("not-site-collection-admin", "masked_by", "target-site-missing"),
    ("not-site-collection-admin", "after", "target-site-missing"),
    ("no-full-control", "masked_by", "target-site-missing"),
    ("no-full-control", "after", "target-site-missing"),
}


def test_the_shipped_relations_are_these_each_with_a_reason() -> None:
    playbooks = load_playbooks()
    declared = {(pb.id, r.kind, r.cause) for pb in playbooks for r in pb.relations.items}
    assert declared == SHIPPED
    assert all(len(r.why.split()) >= 8 for pb in playbooks for r in pb.relations.items)


def test_find_cycle_returns_the_path_or_none() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"]}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": ["x"]}) == ["x", "x"]


def test_fix_order_moves_a_cause_after_the_ones_it_follows_and_keeps_the_rest() -> None:
    first = {"grant": {"install"}, "cert": {"install"}}
    assert fix_order(["grant", "licence", "cert", "install"], first) == [
        "licence", "install", "grant", "cert"]
    assert fix_order(["grant", "licence"], first) == ["grant", "licence"]  # install not in this run
    assert fix_order(["a", "b"], {"a": {"b"}, "b": {"a"}}) == ["a", "b"]  # a cycle: given order, no loop
