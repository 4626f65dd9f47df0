"""A rotated certificate's public half replaces the connector's public certificate file in one step."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from agent.catalog.shared.cert_rotation import new_certificate, public_pem, write_public_certificate


def test_the_public_file_gets_the_certificate_alone(tmp_path: Path) -> None:
    target = tmp_path / "connector-public.pem"
    target.write_text("the old certificate")
    pem, cert = new_certificate("22222222-2222-2222-2222-222222222222", "contoso-migration")
    write_public_certificate(target, cert)
    text = target.read_text()
    assert "PRIVATE KEY" not in text and text.strip() in pem
    assert x509.load_pem_x509_certificate(text.encode()).subject.rfc4514_string() == cert.subject
    assert [p.name for p in tmp_path.iterdir()] == ["connector-public.pem"]  # no temporary file left
    assert public_pem(cert) == text


def test_a_folder_that_cannot_be_written_leaves_the_old_file(tmp_path: Path) -> None:
    _, cert = new_certificate("22222222-2222-2222-2222-222222222222", "contoso-migration")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OSError):
        write_public_certificate(blocker / "connector-public.pem", cert)
    assert list(tmp_path.iterdir()) == [blocker]
