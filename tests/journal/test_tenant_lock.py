"""Per-tenant advisory locks on the PostgreSQL journal: one holder per tenant, released by a dead holder."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from agent.journal.lock import LockBusy
from agent.journal.tenant_lock import TenantLocks, tenant_key
from tests.pg import fresh_database

HOLD = """
import sys, time
from agent.journal.tenant_lock import TenantLocks
lock = TenantLocks(sys.argv[1], sys.argv[2:], "heal").acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as target:
        yield target


def hold(url: str, *tenants: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, url, *tenants], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_the_key_is_the_tenant_id_whatever_its_case() -> None:
    assert tenant_key("Contoso.onmicrosoft.com") == tenant_key("contoso.onmicrosoft.com ")
    assert tenant_key("contoso.onmicrosoft.com") != tenant_key("fabrikam.onmicrosoft.com")
    assert -(2**63) <= tenant_key("x") < 2**63


def test_one_holder_per_tenant_and_other_tenants_stay_free(url: str) -> None:
    with TenantLocks(url, ["contoso.onmicrosoft.com"], "heal") as held:
        assert held.held == ["contoso.onmicrosoft.com"] and held.recovered is None
        with pytest.raises(LockBusy, match=r"another heal run \(pid \d+, started "):
            TenantLocks(url, ["CONTOSO.onmicrosoft.com"], "fix").acquire()
        with TenantLocks(url, ["fabrikam.onmicrosoft.com"], "heal") as other:
            assert other.held == ["fabrikam.onmicrosoft.com"]
    with TenantLocks(url, ["contoso.onmicrosoft.com"]) as again:  # released: no recovery note
        assert again.recovered is None


def test_a_run_over_several_tenants_takes_none_when_one_is_busy(url: str) -> None:
    proc = hold(url, "b.onmicrosoft.com")
    try:
        with pytest.raises(LockBusy):
            TenantLocks(url, ["a.onmicrosoft.com", "b.onmicrosoft.com", "c.onmicrosoft.com"]).acquire()
        with TenantLocks(url, ["a.onmicrosoft.com", "c.onmicrosoft.com"]) as rest:  # none were kept
            assert rest.held == ["a.onmicrosoft.com", "c.onmicrosoft.com"]
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_s_lock_is_released_by_the_database(url: str) -> None:
    proc = hold(url, "contoso.onmicrosoft.com")
    with pytest.raises(LockBusy) as busy:
        TenantLocks(url, ["contoso.onmicrosoft.com"]).acquire()
    assert busy.value.holder is not None and busy.value.holder.pid == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(50):  # the server notices the closed connection at once; allow it a moment
        try:
            lock = TenantLocks(url, ["contoso.onmicrosoft.com"]).acquire()
            break
        except LockBusy:
            import time

            time.sleep(0.1)
    else:
        pytest.fail("the dead holder's lock was never released")
    try:
        assert lock.recovered is not None and lock.recovered.pid == proc.pid  # its description stayed
    finally:
        lock.release()
