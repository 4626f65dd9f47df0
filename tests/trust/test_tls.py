"""A certificate that does not verify (another CA, self-signed, another host) fails the run in one line
naming the endpoint and the certificate's issuer; verification is never switched off."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from agent.simulator import Simulator
from agent.trust import tls
from tests.e2e.harness import World


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A TLS server whose certificate names wrong.example, not 127.0.0.1; (origin, its CA file)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("wrong.example")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield from _serve(context, str(ca_file))


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A TLS server presenting a self-signed certificate (a CA's own, as a lone server's would be)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.cert_pem.write_to_path(str(tmp_path / "self.pem"))
    ca.private_key_pem.write_to_path(str(tmp_path / "self.key"))
    context.load_cert_chain(str(tmp_path / "self.pem"), str(tmp_path / "self.key"))
    yield from _serve(context, None)


def _serve(context: ssl.SSLContext, ca_file: str | None) -> Iterator[tuple[str, str]]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                raw.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", str(ca_file or "")
    stop.set()
    thread.join(2)
    listener.close()


def test_a_wrong_host_names_the_host_and_the_issuer(tls_server: tuple[str, str]) -> None:
    origin, ca_file = tls_server
    why = tls.verify_failure(origin, ca_file, 2)
    assert why is not None and "127.0.0.1" in why and "issued by 'OU=Testing CA" in why, why


def test_a_self_signed_certificate_is_named_so(self_signed_server: tuple[str, str]) -> None:
    origin, _ = self_signed_server
    why = tls.verify_failure(origin, None, 2)  # the system's trust store, as on a real machine
    assert why is not None and "self-signed" in why and "issued by 'OU=Testing CA" in why, why


def test_a_trusted_certificate_passes(sim: Simulator) -> None:
    assert tls.verify_failure(sim.base_url, sim.ca_path, 2) is None


def test_an_endpoint_that_does_not_answer_is_left_to_the_checks() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert tls.verify_failure(f"https://127.0.0.1:{port}", None, 1) is None


def test_an_untrusted_certificate_fails_the_run_in_one_line(sim: Simulator, tmp_path: Path) -> None:
    world = World(sim, tmp_path).reset(["account-unlicensed"], users=4)
    stranger = trustme.CA()
    stranger.cert_pem.write_to_path(str(tmp_path / "stranger.pem"))
    world.config.write_text(world.config.read_text().replace(sim.ca_path, str(tmp_path / "stranger.pem")))
    seq = world.log_seq()
    result = world.run("diagnose", "--connector", "mail-exo")
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: TLS: {sim.base_url} (authority_host of tenant ")
    assert "unable to get local issuer certificate" in lines[0] and "issued by 'OU=Testing CA" in lines[0]
    assert world.requests_since(seq) == []  # no request went out over an unverified connection
