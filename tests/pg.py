"""PostgreSQL for the tests: the server .ci/run starts ($AGENT_TEST_PG_URL), one fresh schema per test.

Without the variable the PostgreSQL tests skip on a developer's machine and FAIL in CI ($CI set): a CI
run that silently skipped them would pass without ever touching the shared journal.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from agent.journal.db import open_postgres
from agent.journal.store import Journal

ENV_URL = "AGENT_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")


def server_url() -> str:
    url = os.environ.get(ENV_URL)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"${ENV_URL} is not set: CI must start PostgreSQL for these tests (.ci/run does)")
    pytest.skip(f"no PostgreSQL: set ${ENV_URL} (`source .ci/postgres` starts a throwaway one)")


def in_schema(url: str, schema: str) -> str:
    """The URL with every connection's search_path set to `schema`."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A URL whose tables land in a new, empty schema, dropped afterwards."""
    import psycopg

    url = server_url()
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield in_schema(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def journal_on(backend: str, folder: Path) -> Iterator[Journal]:
    """A new journal on `backend`, its HMAC key (and SQLite file) in `folder`."""
    if backend == "sqlite":
        with Journal(folder / "journal.sqlite3") as journal:
            yield journal
        return
    with fresh_database() as url, Journal(None, database=open_postgres(url), key_dir=folder) as journal:
        yield journal
