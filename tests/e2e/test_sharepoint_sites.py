"""End to end, the SharePoint connector's causes: site collection admin, Full Control, the target site."""

from __future__ import annotations

from agent.simulator.scenarios.contoso import ACCOUNT_UPN, SOURCE_SITE, TARGET_SITE
from agent.simulator.state.tenant import FULL_CONTROL_ROLE_DEF, RoleAssignment, Site, login_name
from tests.e2e.harness import World, fix_cycle

CONNECTOR = "sp-sites"
SP_CAUSES = ("not-site-collection-admin", "target-site-missing", "no-full-control")
READ_ROLE = 1073741826


def source(world: World) -> Site:
    return world.sim.state.site(SOURCE_SITE)


def account_entry(world: World):  # type: ignore[no-untyped-def]
    return source(world).user_by_login(login_name(ACCOUNT_UPN))


def roles_of_account(world: World) -> set[int]:
    entry = account_entry(world)
    return {r.role_def_id for r in source(world).role_assignments if r.principal_id == entry.id}


def test_not_site_collection_admin(world: World) -> None:
    world.reset(["not-site-collection-admin"])
    runs = fix_cycle(world, CONNECTOR, "not-site-collection-admin", SP_CAUSES)
    row = runs["diagnose"].result(CONNECTOR, "not-site-collection-admin")
    evidence = row["evidence"]
    assert evidence["missing_sites"] == [world.sim.base_url + SOURCE_SITE]
    assert login_name(ACCOUNT_UPN) not in [x.lower() for x in evidence["sites"][0]["admins"]]
    assert evidence["connector"]["token"]["ok"] is True  # what the account itself gets: evidence only
    change = runs["dry_run"].result(CONNECTOR, "not-site-collection-admin")["changes"][0]
    entry = account_entry(world)
    url = f"{world.sim.base_url}{SOURCE_SITE}/_api/web/siteusers/getbyid({entry.id})"
    assert change["call"] == {"method": "MERGE", "body": {"IsSiteAdmin": True}, "url": url}
    undo = runs["undo"].json["results"][0]["changes"][0]
    assert undo["call"]["body"] == {"IsSiteAdmin": False}
    assert entry.is_site_admin is False  # undone, and the account's Full Control is untouched
    assert FULL_CONTROL_ROLE_DEF in roles_of_account(world)


def test_no_full_control_undo_keeps_the_accounts_other_roles(world: World) -> None:
    world.reset(["no-full-control"])
    entry = account_entry(world)
    source(world).role_assignments.append(RoleAssignment(entry.id, READ_ROLE))  # held before the fix
    runs = fix_cycle(world, CONNECTOR, "no-full-control", SP_CAUSES)
    evidence = runs["diagnose"].result(CONNECTOR, "no-full-control")["evidence"]
    assert evidence["sites"][0]["roles"] == [READ_ROLE]
    change = runs["dry_run"].result(CONNECTOR, "no-full-control")["changes"][0]
    assert change["call"]["url"].endswith(
        f"/_api/web/roleassignments/addroleassignment(principalid={entry.id},roledefid=1073741829)")
    undo = runs["undo"].json["results"][0]["changes"][0]
    assert undo["call"]["url"].endswith(
        f"removeroleassignment(principalid={entry.id},roledefid=1073741829)")
    assert roles_of_account(world) == {READ_ROLE}  # that one binding removed, never the others


def test_full_control_for_an_account_not_yet_on_the_site(world: World) -> None:
    world.reset(["no-full-control"])
    site = source(world)
    entry = account_entry(world)
    del site.users[entry.id]
    seq = world.log_seq()
    planned = world.run("fix", "--dry-run", "-o", "json", "--connector", CONNECTOR)
    change = planned.result(CONNECTOR, "no-full-control")["changes"][0]
    assert "ensureuser" in change["description"] and "principalid={Id}" in change["call"]["url"]
    assert world.writes_since(seq) == []
    fixed = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR)
    assert fixed.result(CONNECTOR, "no-full-control")["status"] == "fixed", fixed.json
    assert FULL_CONTROL_ROLE_DEF in roles_of_account(world)


def test_target_site_missing(world: World) -> None:
    world.reset(["target-site-missing"])
    runs = fix_cycle(world, CONNECTOR, "target-site-missing", SP_CAUSES)
    evidence = runs["diagnose"].result(CONNECTOR, "target-site-missing")["evidence"]
    assert evidence["graph"] == "404 itemNotFound" and evidence["site_manager"]["status"] == 0
    body = runs["dry_run"].result(CONNECTOR, "target-site-missing")["changes"][0]["call"]["body"]
    assert body == {"request": {"Title": "Migration target", "Url": world.sim.base_url + TARGET_SITE,
                                "Owner": "admin@contoso.onmicrosoft.com", "Lcid": 1033,
                                "WebTemplate": "STS#3"}}
    fixed = runs["fix"].result(CONNECTOR, "target-site-missing")
    assert fixed["changes"][0]["call"]["url"].endswith("/_api/SPSiteManager/create")
    undo = runs["undo"].json["results"][0]["changes"][0]
    assert undo["call"]["url"].endswith("/_api/SPSiteManager/delete")
    assert world.sim.state.find_site(TARGET_SITE) is None  # deleted again


def test_unreadable_site_is_unknown_and_never_fixed(world: World) -> None:
    world.reset(["not-site-collection-admin"])
    world.sim.set_faults({"errors": {"path": "(?i)/sites/source/_api/web/siteusers", "status": 500,
                                     "rate": 1.0}})
    seq = world.log_seq()
    result = world.run("fix", "--yes", "-o", "json", "--connector", CONNECTOR)
    row = result.result(CONNECTOR, "not-site-collection-admin")
    assert row["status"] == "unknown" and result.code == 3
    assert row["evidence"]["unreadable"][0]["status"] == 500
    assert world.writes_since(seq) == []
