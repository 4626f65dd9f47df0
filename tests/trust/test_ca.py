"""ca_bundle adds to the default trust: the simulated tenant's CA on top of the public roots, never "
  "instead."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import trustme

from agent.trust.ca import bundle_path, ssl_context


def _subjects(context: ssl.SSLContext) -> set[str]:
    names = set()
    for cert in context.get_ca_certs():
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key in ("commonName", "organizationName"):
                    names.add(str(value))
    return names


def test_ssl_context_trusts_the_extra_ca_and_a_public_root(tmp_path: Path) -> None:
    ca = trustme.CA(organization_name="Simulated tenant CA")
    extra = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(extra))
    names = _subjects(ssl_context(extra))
    assert "Simulated tenant CA" in names
    assert "ISRG Root X1" in names  # a public CA (certifi's) still trusted
    assert "Simulated tenant CA" not in _subjects(ssl_context(None))


def test_bundle_path_is_certifi_plus_the_extra_ca(tmp_path: Path) -> None:
    ca = trustme.CA()
    extra = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(extra))
    combined = Path(str(bundle_path(extra))).read_text()
    assert combined.startswith(Path(certifi.where()).read_text().rstrip("\n")[:200])
    assert ca.cert_pem.bytes().decode().strip() in combined
    assert bundle_path(None) is None
    context = ssl.create_default_context(cafile=str(bundle_path(extra)))
    assert "ISRG Root X1" in _subjects(context)


def test_bundle_follows_a_changed_extra_file(tmp_path: Path) -> None:
    extra = tmp_path / "ca.pem"
    first, second = trustme.CA(), trustme.CA()
    first.cert_pem.write_to_path(str(extra))
    one = bundle_path(extra)
    second.cert_pem.write_to_path(str(extra))
    two = bundle_path(extra)
    assert one != two and second.cert_pem.bytes().decode().strip() in Path(str(two)).read_text()
