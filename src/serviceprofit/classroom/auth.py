"""Who may do what: a join code per team, one token for the facilitator.

A join code is short enough to write on a board (six characters from an alphabet with
no look-alikes: 30**6, about 7e8 codes) and lets its holder see and decide for that one
team's firm. The facilitator's token is long (32 random bytes) and is needed for every
facilitator action: advancing, the leaderboard, the debrief and exports. Both come from
:mod:`secrets` and are compared in constant time. Neither is a password for anything
else; both live in the game's SQLite file (mode 0600) so a restarted server keeps them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable

__all__ = ["CODE_ALPHABET", "AuthError", "join_code", "matches", "new_token"]

#: Upper-case letters and digits without 0/O, 1/I/L, 5/S.
CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXYZ23456789"
CODE_LENGTH = 6


class AuthError(PermissionError):
    """A missing or wrong join code or token (the message never echoes what was sent)."""


def join_code(taken: Iterable[str] = ()) -> str:
    """A fresh join code, different from those ``taken``."""
    used = set(taken)
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in used:
            return code


def new_token() -> str:
    """A facilitator token (URL-safe)."""
    return secrets.token_urlsafe(32)


def matches(given: object, expected: str) -> bool:
    """Whether ``given`` is ``expected``, in constant time; codes ignore case and spaces."""
    if not isinstance(given, str) or len(given) > 200:
        return False
    if len(expected) == CODE_LENGTH:
        given = given.strip().upper()
    return hmac.compare_digest(given.encode(), expected.encode())
