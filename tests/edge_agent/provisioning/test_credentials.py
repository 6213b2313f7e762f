"""Broker credentials, ACL rendering and the fleet CA (pure, plus mosquitto_passwd interop)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.provisioning.acl import (
    AGGREGATOR,
    DEVICE_PATTERNS,
    ServiceUser,
    TopicGrant,
    pattern_lines,
    render_acl,
)
from edge_agent.provisioning.passwd import check_password, hash_password, password_line
from edge_agent.provisioning.tls import CertificateAuthority
from tests.services.ports import require_binary

REPO = Path(__file__).resolve().parents[3]


def test_hash_matches_known_vector() -> None:
    # Computed with mosquitto_passwd's algorithm: PBKDF2-HMAC-SHA512, 101 rounds, 64 bytes.
    stored = hash_password("secret", salt=bytes(range(12)))
    assert stored.startswith("$7$101$AAECAwQFBgcICQoL$")
    assert check_password("secret", stored)
    assert not check_password("Secret", stored)


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_hash_round_trip(password: str) -> None:
    assert check_password(password, hash_password(password))


def test_reads_mosquitto_passwd_output(tmp_path: Path) -> None:
    tool = require_binary("mosquitto_passwd", "apt-get install mosquitto", ("/usr/bin",))
    path = tmp_path / "passwd"
    subprocess.run([str(tool), "-b", "-c", str(path), "alice", "s3cret"], check=True)
    user, stored = path.read_text().strip().split(":", 1)
    assert user == "alice"
    assert check_password("s3cret", stored)
    assert not check_password("other", stored)


def test_password_line_refuses_colon() -> None:
    assert password_line("0xab", "pw").startswith("0xab:$7$")
    with pytest.raises(ValueError, match="':'"):
        password_line("a:b", "pw")


def test_acl_rendering() -> None:
    text = render_acl((AGGREGATOR, ServiceUser("ops", (TopicGrant("write", "fp/v1/+/config"),))))
    assert pattern_lines(text) == list(DEVICE_PATTERNS)
    assert "user ops\ntopic write fp/v1/+/config\n" in text
    # Devices never get a wildcard write: the config topic is read-only for them.
    assert all("#" not in line for line in DEVICE_PATTERNS)
    assert "pattern read fp/v1/%u/config" in DEVICE_PATTERNS


def test_shipped_acl_is_the_rendered_one() -> None:
    assert (REPO / "deploy/mosquitto/acl").read_text() == render_acl()


def test_ca_issues_verifiable_certificates() -> None:
    ca = CertificateAuthority.generate()
    device = "0x" + "ab" * 32
    client = x509.load_pem_x509_certificate(ca.issue_client(device).cert_pem)
    server = x509.load_pem_x509_certificate(ca.issue_server(["broker.local", "127.0.0.1"]).cert_pem)
    ca_key = ca.cert.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    for cert in (client, server):
        cert.verify_directly_issued_by(ca.cert)
    sans = client.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"urn:fieldproof:device:{device}"
    ]
    server_sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert server_sans.get_values_for_type(x509.DNSName) == ["broker.local"]
    reloaded = CertificateAuthority.load(ca.cert_pem, ca.key_pem)
    assert reloaded.cert == ca.cert
