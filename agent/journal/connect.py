"""Which journal a command uses: the state directory's SQLite file, or a shared PostgreSQL database.

`--journal postgresql://...`, else $AGENT_JOURNAL_URL, else the config's `journal:` secret reference (the
URL carries a password, so a config names where it is kept, never the URL itself); none of them: SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.errors import BadInput
from agent.journal.db import is_postgres, open_postgres, safe_url
from agent.journal.store import Journal, Now

ENV_JOURNAL_URL = "AGENT_JOURNAL_URL"


def journal_target(explicit: str | None = None, configured: Any = None,
                   env: Mapping[str, str] | None = None) -> str | None:
    """The PostgreSQL URL in force, or None for the SQLite file; anything else is bad input."""
    env = os.environ if env is None else env
    if explicit:
        target, where = explicit, "--journal"
    elif env.get(ENV_JOURNAL_URL):
        target, where = env[ENV_JOURNAL_URL], f"${ENV_JOURNAL_URL}"
    elif configured is not None:
        target, where = configured.resolve(), "the config's journal:"
    else:
        return None
    if not is_postgres(target):
        raise BadInput(f"{where} must be a postgresql:// URL (got {safe_url(target)[:40]!r}); leave it out "
                       "for the SQLite journal in the state directory")
    safe_url(target)  # its password is redacted wherever it could appear from now on
    return target


def open_journal(folder: Path, target: str | None, now: Now | None = None) -> Journal:
    """The journal: PostgreSQL at `target` (its HMAC key in the state directory), else folder's SQLite."""
    if target is None:
        return Journal.in_dir(folder, now)
    from agent.journal.statedir import ensure_state_dir

    # the HMAC key stays on this side: whoever can write the database cannot forge undo data
    key_dir = ensure_state_dir(folder)
    return Journal(None, now, database=open_postgres(target, "agent-journal"), key_dir=key_dir)
