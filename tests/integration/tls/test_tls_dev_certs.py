"""generate_dev_certs writes a usable CA, server and client certificate with private keys 0600."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from shared.tls import DevCerts, TLSConfigError, channel_credentials, generate_dev_certs, server_credentials


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_files_and_permissions(tmp_path: Path) -> None:
    certs = generate_dev_certs(tmp_path / "certs")
    assert sorted(p.name for p in (tmp_path / "certs").iterdir()) == [
        "ca-key.pem",
        "ca.pem",
        "client-key.pem",
        "client.pem",
        "server-key.pem",
        "server.pem",
    ]
    for key in (certs.ca_key, certs.server_key, certs.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_regenerating_tightens_an_existing_key_file(tmp_path: Path) -> None:
    (tmp_path / "server-key.pem").write_text("old")
    (tmp_path / "server-key.pem").chmod(0o644)
    certs = generate_dev_certs(tmp_path)
    assert stat.S_IMODE(certs.server_key.stat().st_mode) == 0o600


def test_chain_names_and_usages(tmp_path: Path) -> None:
    certs = generate_dev_certs(tmp_path, ["outrider.internal", "127.0.0.1", "::1"])
    ca, server, client = load(certs.ca_cert), load(certs.server_cert), load(certs.client_cert)

    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)

    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["outrider.internal"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    server_eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    client_eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(server_eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(client_eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    lifetime = server.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=29) < lifetime <= datetime.timedelta(days=30)


def test_no_hosts_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match="at least one host"):
        generate_dev_certs(tmp_path, [])


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match=r"cannot read TLS certificate .*missing\.pem"):
        server_credentials(tmp_path / "missing.pem", tmp_path / "missing-key.pem")


def test_client_cert_without_key_is_an_error(tmp_path: Path) -> None:
    certs: DevCerts = generate_dev_certs(tmp_path)
    with pytest.raises(TLSConfigError, match="together"):
        channel_credentials(certs.ca_cert, client_cert=certs.client_cert)
