"""OPC UA security: application certificates, trusted peers, users with salted password hashes, permissions.

* ``create_certificate`` makes a self-signed application certificate + key (Basic256Sha256 needs them).
* Trust list: a directory of peer certificates (PEM/DER); only clients whose certificate is there connect.
* Users file (JSON): ``{"alice": {"salt": hex, "hash": hex, "role": "engineer"}}``, PBKDF2-SHA256. Engineers
  may write (approve/reject); anonymous sessions may only read and subscribe.
* ``DosingUserManager`` refuses any session without a client certificate unless None security was enabled
  explicitly (closes the asyncua "None channel" hole, see ECOSYSTEM.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
from pathlib import Path

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from cryptography.x509.oid import ExtendedKeyUsageOID

PBKDF2_ROUNDS = 200_000
WRITE_TYPES = {ua.NodeId(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary),
               ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary)}


async def create_certificate(out_dir: str | Path, name: str, hostname: str | None = None,
                             client: bool = False) -> tuple[Path, Path]:
    """Create ``<name>.der`` and ``<name>.pem`` (key) in ``out_dir``; returns (certificate, key) paths."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / f"{name}.der", d / f"{name}.pem"
    host = hostname or socket.gethostname()
    use = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [ExtendedKeyUsageOID.SERVER_AUTH,
                                                            ExtendedKeyUsageOID.CLIENT_AUTH]
    await setup_self_signed_certificate(key, cert, application_uri(name), host, use,
                                        {"countryName": "KR", "organizationName": "steel-dosing", "commonName": name})
    return cert, key


def application_uri(name: str) -> str:
    """The application URI written into a certificate and announced by the application."""
    return f"urn:steel-dosing:{name}"


def _hash(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS).hex()


def add_user(users_file: str | Path, name: str, password: str, role: str = "engineer") -> None:
    """Add or replace a user in the users file (only a salted hash is stored)."""
    if role not in ("engineer", "operator"):
        raise ValueError(f"role must be 'engineer' or 'operator', got {role!r}")
    p = Path(users_file)
    users = json.loads(p.read_text()) if p.exists() else {}
    salt = os.urandom(16)
    users[name] = {"salt": salt.hex(), "hash": _hash(password, salt), "role": role}
    p.write_text(json.dumps(users, indent=1))


def check_password(users: dict, name: str, password: str) -> str | None:
    """The user's role if the password is right, else None."""
    rec = users.get(name)
    if rec is None:
        return None
    ok = hmac.compare_digest(_hash(password, bytes.fromhex(rec["salt"])), rec["hash"])
    return rec["role"] if ok else None


class DosingUserManager:
    """Maps a session to a role: engineers (password) may write, anonymous may read, others are refused."""

    def __init__(self, users: dict, require_certificate: bool) -> None:
        self.users = users
        self.require_certificate = require_certificate

    def get_user(self, iserver, username=None, password=None, certificate=None):  # noqa: ANN001, ANN201
        if self.require_certificate and certificate is None:
            return None  # a session over a None channel while None security is off
        if username is None:
            return User(role=UserRole.Anonymous)
        role = check_password(self.users, username, password or "")
        if role is None:
            return None
        return User(role=UserRole.User if role == "engineer" else UserRole.Anonymous, name=username)


class ReadOnlyAnonymous(PermissionRuleset):
    """Engineers: read, subscribe, write, call. Anonymous and operators: read and subscribe only."""

    def __init__(self) -> None:
        user_ids = {ua.NodeId(t) for t in USER_TYPES}
        self._allowed = {UserRole.Admin: user_ids, UserRole.User: user_ids,
                         UserRole.Anonymous: user_ids - WRITE_TYPES}

    def check_validity(self, user, action_type_id, body):  # noqa: ANN001, ANN201, ARG002
        return action_type_id in self._allowed.get(user.role, set())
