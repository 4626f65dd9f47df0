"""The requests-based libraries' sessions share one loaded TLS context per CA file, and verify as strictly
as before: the extra CA and the public roots trusted, a stranger's certificate and a wrong host refused."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

from agent.clients.bodycap import CappedHTTPAdapter, capped_session
from agent.clients.shared_tls import SharedContextAdapter
from agent.trust import ca
from agent.trust.ca import bundle_path, file_context


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[trustme.CA, str], str]]:
    """serve(ca, name): an https server on localhost whose certificate `ca` issued for `name`; its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(issuer: trustme.CA, name: str) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        issuer.issue_cert(name).configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://localhost:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _pem(tmp_path: Path, issuer: trustme.CA, name: str) -> Path:
    path = tmp_path / name
    issuer.cert_pem.write_to_path(str(path))
    return path


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(str(kwargs.get("cafile") or (args[0] if args else "")))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return loads


def test_new_sessions_and_connections_share_one_context(serve: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = trustme.CA()
    url = serve(issuer, "localhost")
    verify = str(bundle_path(_pem(tmp_path, issuer, "tenant-ca.pem")))
    ca._FILE_CONTEXTS.clear()
    loads = _count_loads(monkeypatch)
    contexts = []
    for _ in range(5):  # a fresh session each time: a new pool and a new TLS connection
        with capped_session(1024) as session:
            assert session.get(url, verify=verify, timeout=5).text == "ok"
            pools = session.get_adapter(url).poolmanager.pools
            keys = pools.keys()  # the container refuses plain iteration
            contexts += [pools[key].conn_kw["ssl_context"] for key in keys]
    assert loads == [verify]  # the bundle was read once, not once per connection
    assert len(contexts) == 5 and all(c is contexts[0] for c in contexts)
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname


def test_a_stranger_certificate_is_still_refused(serve: Any, tmp_path: Path) -> None:
    url = serve(trustme.CA(), "localhost")  # issued by a CA nobody here trusts
    trusted = str(bundle_path(_pem(tmp_path, trustme.CA(), "tenant-ca.pem")))
    with capped_session(1024) as session:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            session.get(url, verify=trusted, timeout=5)
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            session.get(url, timeout=5)  # verify=True: certifi's roots only


def test_a_certificate_for_another_host_is_still_refused(serve: Any, tmp_path: Path) -> None:
    issuer = trustme.CA()
    url = serve(issuer, "elsewhere.example")
    verify = str(bundle_path(_pem(tmp_path, issuer, "tenant-ca.pem")))
    with capped_session(1024) as session, \
            pytest.raises(requests.exceptions.SSLError, match=r"[Hh]ostname mismatch"):
        session.get(url, verify=verify, timeout=5)


def test_the_shared_context_trusts_the_extra_ca_and_the_public_roots(tmp_path: Path) -> None:
    issuer = trustme.CA(organization_name="Simulated tenant CA")
    context = file_context(str(bundle_path(_pem(tmp_path, issuer, "tenant-ca.pem"))))
    names = {str(v) for cert in context.get_ca_certs() for rdn in cert["subject"] for k, v in rdn
             if k in ("commonName", "organizationName")}
    assert {"Simulated tenant CA", "ISRG Root X1"} <= names
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_an_edited_ca_file_is_read_again(tmp_path: Path) -> None:
    path = _pem(tmp_path, trustme.CA(), "ca.pem")
    first = file_context(str(path))
    assert file_context(str(path)) is first
    trustme.CA().cert_pem.write_to_path(str(path))
    path.write_text(path.read_text() + _pem(tmp_path, trustme.CA(), "other.pem").read_text())
    assert file_context(str(path)) is not first
    with pytest.raises(OSError):
        file_context(str(tmp_path))  # a directory is not a CA file


def test_requests_keeps_its_own_way_when_nothing_is_shared(serve: Any, tmp_path: Path) -> None:
    issuer = trustme.CA()
    url = serve(issuer, "localhost")
    adapter = SharedContextAdapter()
    request = requests.Request("GET", url).prepare()
    for verify, cert in ((False, None), (str(tmp_path), None), (True, ("c.pem", "k.pem"))):
        _, pool_kwargs = adapter.build_connection_pool_key_attributes(request, verify, cert)
        assert "ssl_context" not in pool_kwargs
    with capped_session(1024) as session, pytest.raises(OSError, match="invalid path"):
        session.get(url, verify=str(tmp_path / "missing.pem"), timeout=5)  # requests' own message
    assert issubclass(CappedHTTPAdapter, SharedContextAdapter)  # every capped session shares


def test_the_pool_keeps_no_path_to_reload_unless_an_https_proxy_needs_it(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from urllib3.util import parse_url

    verify = str(bundle_path(_pem(tmp_path, trustme.CA(), "tenant-ca.pem")))
    adapter, url = SharedContextAdapter(), "https://contoso.sharepoint.com/_api/web"
    direct = SimpleNamespace(proxy=None, conn_kw={"ssl_context": file_context(verify)}, cert_reqs=None,
                             ca_certs="stale", ca_cert_dir=None)
    adapter.cert_verify(direct, url, verify, None)
    assert (direct.cert_reqs, direct.ca_certs) == ("CERT_REQUIRED", None)
    tunnelled = SimpleNamespace(proxy=parse_url("https://proxy.contoso.com:8443"), cert_file=None,
                                key_file=None, conn_kw={"ssl_context": file_context(verify)},
                                cert_reqs=None, ca_certs=None, ca_cert_dir=None)
    adapter.cert_verify(tunnelled, url, verify, None)  # the proxy's own certificate is verified by path
    assert (tunnelled.cert_reqs, tunnelled.ca_certs) == ("CERT_REQUIRED", verify)
