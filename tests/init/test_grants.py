"""The tier's permissions resolved on the tenant's resource service principals, one by one."""

from __future__ import annotations

from agent.init.grants import resolve, tier_permissions
from agent.playbook.load import load_playbooks
from agent.playbook.manifest import RESOURCE_APP_IDS
from agent.playbook.permissions import GRAPH, SHAREPOINT


def test_unknown_names_are_reported_not_fatal_and_conditional_ones_wait() -> None:
    perms = [(GRAPH, "User.Read.All", None), (GRAPH, "Nope.Read.All", None),
             (GRAPH, "GroupMember.Read.All", "a group scope"), (SHAREPOINT, "Sites.FullControl.All", None)]
    roles = {GRAPH: ("g-sp", {"User.Read.All": "r1", "GroupMember.Read.All": "r2"}),
             SHAREPOINT: ("s-sp", {"Sites.FullControl.All": "r3"})}
    plan = resolve(perms, roles)
    labels = [w.label for w in plan.wanted]
    assert labels == ["Microsoft Graph User.Read.All", "SharePoint Sites.FullControl.All"]
    assert plan.unknown == ["Microsoft Graph Nope.Read.All"]
    assert plan.conditional == {"Microsoft Graph GroupMember.Read.All": "a group scope"}
    access = plan.required_resource_access()
    assert access == [{"resourceAppId": RESOURCE_APP_IDS[GRAPH],
                       "resourceAccess": [{"id": "r1", "type": "Role"}]},
                      {"resourceAppId": RESOURCE_APP_IDS[SHAREPOINT],
                       "resourceAccess": [{"id": "r3", "type": "Role"}]}]


def test_tiers_grow_from_read_to_fix_high() -> None:
    books = load_playbooks(None)
    read, fix, high = (set(tier_permissions(books, t)) for t in ("read", "fix", "fix-high"))
    assert read < fix < high
    assert (GRAPH, "User-PasswordProfile.ReadWrite.All", None) in high - fix
    assert not any(name.endswith("ReadWrite.All") for _, name, _ in read)
