"""The users file of the setpoint server: PBKDF2-SHA256 salted hashes and a role per user, written 0600.

Format (JSON): ``{"alice": {"salt": hex, "hash": hex, "role": "engineer"}}``. Engineers may approve or reject
the current recommendation (OPC UA Method or ``dosing approve``); operators and anonymous sessions only read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Literal

Role = Literal["engineer", "operator"]
ROLES: tuple[Role, ...] = ("engineer", "operator")
PBKDF2_ROUNDS = 200_000


class AuthenticationError(PermissionError):
    """Unknown user, wrong password, or a role that may not do what was asked."""


def write_secret(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` readable by the owner only (0600), atomically (no moment with wider rights)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old tmp file keeps its mode otherwise
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, p)
    return p


def _hash(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS).hex()


def load_users(users_file: str | Path | None) -> dict:
    """The users file's content ({} when no file is given); a clear error when it is not a users file."""
    if users_file is None:
        return {}
    p = Path(users_file)
    try:
        users = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a readable users file ({exc}); create it with `dosing users add`") from exc
    bad = [n for n, r in users.items() if not isinstance(r, dict) or r.get("role") not in ROLES
           or not {"salt", "hash"} <= set(r)]
    if bad:
        raise ValueError(f"{p}: users {bad} lack salt/hash or have a role other than {list(ROLES)}")
    return users


def add_user(users_file: str | Path, name: str, password: str, role: str = "engineer") -> None:
    """Add or replace a user in the users file (only a salted hash is stored; the file is written 0600)."""
    if role not in ROLES:
        raise ValueError(f"role must be 'engineer' or 'operator', got {role!r}")
    if not password:
        raise ValueError(f"user {name!r}: the password must not be empty")
    p = Path(users_file)
    users = load_users(p) if p.exists() else {}
    salt = os.urandom(16)
    users[name] = {"salt": salt.hex(), "hash": _hash(password, salt), "role": role}
    write_secret(p, json.dumps(users, indent=1).encode())


def check_password(users: dict, name: str, password: str) -> Role | None:
    """The user's role if the password is right, else None."""
    rec = users.get(name)
    if rec is None:
        _hash(password, b"\0" * 16)  # same work for unknown users: no timing hint which names exist
        return None
    ok = hmac.compare_digest(_hash(password, bytes.fromhex(rec["salt"])), rec["hash"])
    return rec["role"] if ok else None


def authenticate_engineer(users: dict, name: str, password: str) -> None:
    """Raise :class:`AuthenticationError` unless ``name``/``password`` is an engineer of the users file."""
    role = check_password(users, name, password)
    if role is None:
        raise AuthenticationError(f"user {name!r}: unknown user or wrong password")
    if role != "engineer":
        raise AuthenticationError(f"user {name!r} is an {role}; only engineers may approve or reject")
