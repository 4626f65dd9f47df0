"""Report renderer tests; `sample_report()` is one run with every status, changes, evidence and advice."""

from __future__ import annotations

from agent import redact
from agent.model import Outcome, RunReport, Status

SECRET = "Rep0rt-Secret-Should-Never-Show"  # registered with the redactor by sample_report()
STATUSES = tuple(Status)


def sample_report() -> RunReport:
    """Two connectors, one result per status; a fixed one with a change, a secret in some evidence."""
    redact.register(SECRET)
    results = []
    for i, status in enumerate(STATUSES):
        connector = "mail-exo" if i % 2 == 0 else "files-onedrive"
        results.append(Outcome(connector, f"cause-{status.value}", status,
                               evidence={"probe": {"aadsts": 50126}, "client_secret": SECRET},
                               summary=f"{status.value} <summary> & more", reason=f"because {SECRET}",
                               advice="Do <b>this</b> by hand.", risk="medium"))
    fixed = next(o for o in results if o.status == Status.FIXED)
    fixed.changes = [{"seq": 1, "action": "assign-licence", "description": "assign E3", "state": "applied",
                      "call": {"method": "POST", "url": "https://graph.example/v1.0/users/1/assignLicense",
                               "body": {"addLicenses": [{"skuId": "e3"}], "password": SECRET}},
                      "before": {"licensed": False}, "after": {"licensed": True}, "irreversible": False}]
    return RunReport("20261125-142233-ab12", "heal", "2026-11-25T14:22:33+00:00",
                     "2026-11-25T14:23:01+00:00", results, 4)
