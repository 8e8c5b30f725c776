"""HTTPS for the API: a local certificate authority that ecsram creates once, and the server
certificate it signs for ``localhost``, ``127.0.0.1`` and ``::1``.

The CA lives in the TLS directory (by default ``<user data dir>/tls``, next to the default
database) so that a user trusts it once; its key is readable by the owner only. The server
certificate is kept while it is valid, names every loopback host, and was signed by that CA;
otherwise it is issued again on start-up. A user's own certificate and key bypass all of this.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import ipaddress
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from platformdirs import user_data_dir

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "localhost.pem"
SERVER_KEY = "localhost-key.pem"
LOCK = ".lock"

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))

CA_LIFETIME = datetime.timedelta(days=3650)
# Kept under 398 days: some TLS stacks refuse longer-lived server certificates even from a
# private CA (Apple's does for 825 days and more).
SERVER_LIFETIME = datetime.timedelta(days=365)
# A server certificate with less than this left is issued again on start-up.
RENEW_BEFORE = datetime.timedelta(days=30)


class TlsSetupError(Exception):
    """A certificate, key or TLS directory that cannot be used; the message names the file."""


@dataclass(frozen=True)
class ServerFiles:
    cert: Path
    key: Path
    # The local CA that signed ``cert``; None for a user's own certificate.
    ca: Path | None


def default_tls_dir() -> Path:
    return Path(user_data_dir("ecsram", appauthor=False)) / "tls"


def tls_dir(configured: str | None) -> Path:
    return Path(configured).expanduser() if configured else default_tls_dir()


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate's DER form, as upper-case hex pairs (what browsers show)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def ensure_ca(directory: Path) -> Path:
    """The local CA's certificate file in ``directory``, created on first use."""
    with _locked(directory):
        _load_or_create_ca(directory)
    return directory / CA_CERT


def ensure_server_files(directory: Path) -> ServerFiles:
    """The local CA and a current server certificate signed by it, created or renewed as needed."""
    with _locked(directory):
        ca_cert, ca_key = _load_or_create_ca(directory)
        cert_path, key_path = directory / SERVER_CERT, directory / SERVER_KEY
        if not _server_cert_usable(cert_path, key_path, ca_cert):
            _issue_server_cert(cert_path, key_path, ca_cert, ca_key)
    return ServerFiles(cert_path, key_path, directory / CA_CERT)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Load a certificate chain and its key as the server would; TlsSetupError names what is wrong."""
    for path, what in ((cert, "certificate"), (key, "key")):
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise TlsSetupError(f"cannot read the TLS {what} file {path}: {exc.strerror or exc}") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except ssl.SSLError as exc:
        raise TlsSetupError(
            f"cannot use the TLS certificate {cert} with the key {key}: {exc.reason or exc} "
            "(both must be PEM, and the key must belong to the certificate)"
        ) from None
    return context


# --- internals ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialises CA and certificate creation between ecsram processes sharing the directory."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise TlsSetupError(f"cannot use the TLS directory {directory}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _load_or_create_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    if cert_path.exists() or key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise TlsSetupError(
                f"the local CA in {directory} is unreadable ({exc}); remove {cert_path} and {key_path} "
                "to create a new one (clients will have to trust the new one)"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TlsSetupError(f"{key_path} is not the EC key ecsram creates; remove it and {cert_path}")
        if key_path.stat().st_mode & 0o077:
            key_path.chmod(0o600)  # copied or restored with wider permissions: narrow them again
        return cert, key

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecsram"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ecsram local CA {os.urandom(4).hex()}"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a certificate without its key would be a CA nobody can use.
    _write_atomically(key_path, _private_pem(key), 0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _server_cert_usable(cert_path: Path, key_path: Path, ca_cert: x509.Certificate) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    if key.public_key() != cert.public_key():
        return False
    if cert.not_valid_after_utc - _now() < RENEW_BEFORE or cert.not_valid_before_utc > _now():
        return False
    has_names = set(LOOPBACK_NAMES) <= set(names.get_values_for_type(x509.DNSName))
    has_addresses = set(LOOPBACK_ADDRESSES) <= set(names.get_values_for_type(x509.IPAddress))
    return has_names and has_addresses


def _issue_server_cert(
    cert_path: Path, key_path: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    alternative_names: list[x509.GeneralName] = [x509.DNSName(name) for name in LOOPBACK_NAMES]
    alternative_names += [x509.IPAddress(address) for address in LOOPBACK_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_atomically(key_path, _private_pem(key), 0o600)
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file created with ``mode`` (never wider), then rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)  # the umask may have narrowed it; it never widens it
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise TlsSetupError(f"cannot write {path}: {exc.strerror or exc}") from None
