"""gRPC TLS credentials for both sides, and a throwaway CA for local use.

`server_credentials` and `channel_credentials` turn the file flags of `outrider server` and
`outrider-delegate run` into grpc credential objects; passing a client CA to the server makes client
certificates mandatory (mTLS). Files are read once, at start; a missing or unreadable file is a
`TLSConfigError` naming the file.

`generate_dev_certs` (behind `outrider certs dev --out DIR`) writes a CA, a server certificate for
the given host names and IP addresses, and a delegate client certificate, all valid for 30 days.
It uses ECDSA P-256: generated in microseconds (RSA takes far longer, which matters in tests),
and supported by every TLS stack gRPC ships with. Private keys are written with mode 0600. These
certificates are for loopback and demos; production uses certificates from the customer's PKI.

I/O: reading the given files, and writing into the output directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEV_CERT_VALIDITY = datetime.timedelta(days=30)
# Back-date notBefore a little so a client whose clock is slightly behind still accepts the cert.
_CLOCK_SKEW = datetime.timedelta(minutes=5)


class TLSConfigError(Exception):
    """A certificate or key file is missing, unreadable, or given without its partner."""


def _read(path: Path | str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TLSConfigError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None


def server_credentials(
    cert_file: Path | str, key_file: Path | str, client_ca_file: Path | str | None = None
) -> grpc.ServerCredentials:
    """Server TLS credentials; with `client_ca_file`, clients must present a cert signed by that CA."""
    cert = _read(cert_file, "TLS certificate")
    pair = (_read(key_file, "TLS key"), cert)
    if client_ca_file is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials(
        [pair], root_certificates=_read(client_ca_file, "client CA"), require_client_auth=True
    )


def channel_credentials(
    ca_file: Path | str | None = None,
    client_cert: Path | str | None = None,
    client_key: Path | str | None = None,
) -> grpc.ChannelCredentials:
    """Client TLS credentials: trust `ca_file` (else the system roots), present a client cert if given."""
    if (client_cert is None) != (client_key is None):
        raise TLSConfigError("--client-cert and --client-key must be given together")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file, "CA certificate") if ca_file is not None else None,
        private_key=_read(client_key, "client key") if client_key is not None else None,
        certificate_chain=_read(client_cert, "client certificate") if client_cert is not None else None,
    )


# --- development certificates ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DevCerts:
    """Where `generate_dev_certs` wrote each file."""

    ca_cert: Path
    """The CA certificate: `--ca-cert` for delegates and operators, `--client-ca` for the server."""
    ca_key: Path
    """The CA's private key; only needed to issue more certificates."""
    server_cert: Path
    server_key: Path
    client_cert: Path
    """The delegate's client certificate (clientAuth), for `--client-cert`."""
    client_key: Path


def _write_file(path: Path, data: bytes, *, private: bool) -> None:
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        # The creation mode does not apply to a file that already existed (a regenerated key).
        os.fchmod(handle.fileno(), mode)
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _issue(
    *,
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public_key = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + DEV_CERT_VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def generate_dev_certs(
    out_dir: Path,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    *,
    client_name: str = "outrider-delegate",
) -> DevCerts:
    """Write a throwaway CA, a server cert for `hosts` and a delegate client cert into `out_dir`."""
    if not hosts:
        raise TLSConfigError("generate_dev_certs needs at least one host name or IP address")
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    paths = DevCerts(
        ca_cert=out_dir / "ca.pem",
        ca_key=out_dir / "ca-key.pem",
        server_cert=out_dir / "server.pem",
        server_key=out_dir / "server-key.pem",
        client_cert=out_dir / "client.pem",
        client_key=out_dir / "client-key.pem",
    )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue(
        common_name="Outrider development CA",
        key=ca_key,
        issuer=None,
        issuer_key=ca_key,
        now=now,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(cert_sign=True), True),
        ],
    )
    leaf_extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage(cert_sign=False), True),
    ]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue(
        common_name=hosts[0],
        key=server_key,
        issuer=ca,
        issuer_key=ca_key,
        now=now,
        extensions=[
            *leaf_extensions,
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (_san(hosts), False),
        ],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue(
        common_name=client_name,
        key=client_key,
        issuer=ca,
        issuer_key=ca_key,
        now=now,
        extensions=[*leaf_extensions, (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
    )

    pem = serialization.Encoding.PEM
    _write_file(paths.ca_cert, ca.public_bytes(pem), private=False)
    _write_file(paths.ca_key, _key_pem(ca_key), private=True)
    _write_file(paths.server_cert, server.public_bytes(pem), private=False)
    _write_file(paths.server_key, _key_pem(server_key), private=True)
    _write_file(paths.client_cert, client.public_bytes(pem), private=False)
    _write_file(paths.client_key, _key_pem(client_key), private=True)
    return paths
