"""OPC UA security: application certificates (key written 0600), the trust list, the security policies offered.

* ``create_certificate`` makes a self-signed application certificate and key (the policies below need them).
* Trust list: a directory of peer certificates (PEM/DER). Secure mode refuses to start without one, and a peer
  is accepted only if its certificate is trusted and within its validity dates (``PeerCertificateCheck``).
* ``policy_types`` maps the config's ``[opcua] security_policies`` to asyncua's; None security is never among
  them (only ``--insecure-demo`` adds it).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

from asyncua import ua
from asyncua.crypto.cert_gen import dump_private_key_as_pem, generate_private_key, generate_self_signed_app_certificate
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.uacrypto import load_private_key
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from connectors.opcua.users import write_secret

CERT_DAYS = 365
CERT_SUFFIXES = (".der", ".pem", ".crt", ".cer")


def application_uri(name: str) -> str:
    """The application URI written into a certificate and announced by the application."""
    return f"urn:steel-dosing:{name}"


async def create_certificate(out_dir: str | Path, name: str, hostname: str | None = None,
                             client: bool = False) -> tuple[Path, Path]:
    """Create ``<name>.der`` and ``<name>.pem`` (key, mode 0600) in ``out_dir``; returns (certificate, key).

    An existing key is kept (and its mode fixed); the certificate is renewed when missing or no longer valid."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = d / f"{name}.der", d / f"{name}.pem"
    if key_path.is_file():
        key = await load_private_key(key_path)
        key_path.chmod(0o600)
    else:
        key = generate_private_key()
        write_secret(key_path, dump_private_key_as_pem(key))
    if cert_path.is_file() and certificate_problem(x509.load_der_x509_certificate(cert_path.read_bytes())) is None:
        return cert_path, key_path
    # the given host name and this machine's: asyncua checks the certificate against socket.gethostname()
    hosts = dict.fromkeys(h for h in (hostname, socket.gethostname()) if h)
    use = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH,
                                                            ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = generate_self_signed_app_certificate(
        key, name, {"countryName": "KR", "organizationName": "steel-dosing"},
        [x509.UniformResourceIdentifier(application_uri(name)), *(x509.DNSName(h) for h in hosts)], extended=use,
        days=CERT_DAYS)
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    return cert_path, key_path


def certificate_uri(path: str | Path) -> str | None:
    """The application URI a certificate (DER or PEM) names, or None: a server announces it so clients (and
    asyncua's own check) find it in the certificate."""
    data = Path(path).read_bytes()
    cert = x509.load_pem_x509_certificate(data) if data.startswith(b"-----") else x509.load_der_x509_certificate(data)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def certificate_problem(cert: x509.Certificate, now: datetime | None = None) -> str | None:
    """Why ``cert`` is not valid at ``now`` (expired / not yet valid), or None."""
    now = now or datetime.now(UTC)
    if now < cert.not_valid_before_utc:
        return f"not valid before {cert.not_valid_before_utc.isoformat()}"
    if now > cert.not_valid_after_utc:
        return f"expired on {cert.not_valid_after_utc.isoformat()}"
    return None


async def load_trust_store(trusted_dir: str | Path) -> TrustStore:
    """The trust list in ``trusted_dir``; a ValueError saying what to do when it is missing or empty."""
    d = Path(trusted_dir)
    files = [p for p in d.iterdir() if p.suffix.lower() in CERT_SUFFIXES] if d.is_dir() else []
    if not files:
        raise ValueError(f"trusted directory {d} {'holds no certificates' if d.is_dir() else 'does not exist'}: "
                         "put the DCS client certificates (DER or PEM) there, else any client certificate would "
                         "be accepted")
    store = TrustStore([d], [])
    await store.load()
    return store


class PeerCertificateCheck:
    """Is the certificate a secure channel was opened with trusted and within its validity dates?

    asyncua validates only the certificate a client *sends in CreateSession*, and only if it sends one; the
    channel's own certificate (whose key signs every message) is checked here, at session activation."""

    def __init__(self, store: TrustStore) -> None:
        self.store = store

    def problem(self, der: bytes) -> str | None:
        """Why the DER certificate is refused, or None."""
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            return f"unreadable certificate ({exc})"
        why = certificate_problem(cert)
        if why is not None:
            return why
        if not self.store.is_trusted(cert):
            return "not in the trust list"
        if self.store.is_revoked(cert):
            return "revoked"
        return None


def policy_types(names: list[str], insecure: bool) -> list[ua.SecurityPolicyType]:
    """asyncua policy types for the config names (e.g. ``Aes256Sha256RsaPss_SignAndEncrypt``), None first when
    ``insecure``; a ValueError for a name asyncua does not know."""
    unknown = [n for n in names if n not in ua.SecurityPolicyType.__members__ or n == "NoSecurity"]
    if unknown:
        known = [n for n in ua.SecurityPolicyType.__members__ if n != "NoSecurity"]
        raise ValueError(f"[opcua] security_policies: {unknown} not supported; choose from {known}")
    out = [ua.SecurityPolicyType[n] for n in names]
    return [ua.SecurityPolicyType.NoSecurity, *out] if insecure else out
