"""Who may do what on the setpoint server: session activation (users, channel certificate) and per-request rules.

* ``DosingUserManager.get_user`` (session activation): refuses a session without a channel client certificate
  (a SecurityPolicy None channel: asyncua passes ``b''`` there, not ``None``) unless None security was enabled
  for a demo, refuses a channel certificate that is untrusted or outside its validity dates, and maps user names
  to roles (engineer: ``UserRole.User``; operator and anonymous: ``UserRole.Anonymous``).
* ``DosingRules`` (every request on a secured channel): nothing before the session is activated; engineers may
  read, browse, subscribe and call the approval Methods; everyone else may read, browse and subscribe. Nobody
  writes: the address space has no writable node.
* ``RefuseAll`` is put on SecurityPolicy None channels when None security is off, so a client that creates a
  session there without activating it cannot read either (asyncua checks no rules on an unoffered None channel).
* ``CALLER`` holds the user of the request being processed (set by the rules, read by Method handlers: asyncua
  does not pass the session to a Method; the rules run in the same task just before the call).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import TypeGuard

from asyncua import ua
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.server.user_managers import UserManager

from connectors.opcua.address_space import standard_node_id
from connectors.opcua.security import PeerCertificateCheck
from connectors.opcua.users import check_password

log = logging.getLogger(__name__)
CALLER: ContextVar[User | None] = ContextVar("dosing_opcua_caller", default=None)
ENGINEER = UserRole.User
CALL = standard_node_id(ua.ObjectIds.CallRequest_Encoding_DefaultBinary)
WRITE = standard_node_id(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary)
READ_TYPES = frozenset(standard_node_id(t) for t in USER_TYPES) - {CALL, WRITE}
ENGINEER_TYPES = READ_TYPES | {CALL}


class DosingUserManager(UserManager):
    """Maps an activating session to a user, or refuses it (None -> BadUserAccessDenied); see module doc."""

    def __init__(self, users: dict, peer_check: PeerCertificateCheck | None, allow_no_certificate: bool) -> None:
        self.users = users
        self.peer_check = peer_check
        self.allow_no_certificate = allow_no_certificate

    def get_user(self, iserver, username=None, password=None, certificate=None):  # noqa: ANN001, ANN201, ARG002
        if not certificate:  # None, or b'' on a None channel
            if not self.allow_no_certificate:
                log.warning("refused session %s: no client certificate (SecurityPolicy None channel)",
                            f"of user {username!r}" if username else "(anonymous)")
                return None
        elif self.peer_check is not None and (why := self.peer_check.problem(certificate)) is not None:
            log.warning("refused session: client certificate %s", why)
            return None
        if username is None:
            return User(role=UserRole.Anonymous)
        role = check_password(self.users, username, password or "")
        if role is None:
            log.warning("refused session of user %r: unknown user or wrong password", username)
            return None
        return User(role=ENGINEER if role == "engineer" else UserRole.Anonymous, name=username)


class DosingRules(PermissionRuleset):
    """Per-request rules on a secured (or demo None) channel; see module doc."""

    def check_validity(self, user, action_type_id, body):  # noqa: ANN001, ANN201, ARG002
        CALLER.set(user)
        if user is None:  # a session created but never activated
            return False
        return action_type_id in (ENGINEER_TYPES if user.role == ENGINEER else READ_TYPES)


class RefuseAll(PermissionRuleset):
    """No request of a session on a channel that should not carry sessions."""

    def check_validity(self, user, action_type_id, body):  # noqa: ANN001, ANN201, ARG002
        CALLER.set(None)
        return False


def is_engineer(user: User | None) -> TypeGuard[User]:
    """True for a session activated with an engineer's user name and password."""
    return user is not None and user.role == ENGINEER and bool(user.name)
