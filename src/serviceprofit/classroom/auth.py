"""Who may do what: a join code per team, one token for the facilitator.

A join code is short enough to write on a board (six characters from an alphabet with
no look-alikes: 30**6, about 7e8 codes) and lets its holder see and decide for that one
team's firm. The facilitator's token is long (32 random bytes) and is needed for every
facilitator action: advancing, the leaderboard, the debrief and exports. Both come from
:mod:`secrets` and are compared in constant time. Neither is a password for anything
else; both live in the game's SQLite file (mode 0600) so a restarted server keeps them.

Guessing codes is slowed at the door (:class:`Throttle`): a client (an address) that
sends :data:`WRONG_CODES_ALLOWED` wrong join codes within a minute is refused every code,
right or wrong, for a minute, then for twice as long at each further lock-out (at most an
hour), with a message that says how long. Seven hundred million codes at five a minute
cannot be searched; a student who mistyped waits a minute.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

__all__ = [
    "CODE_ALPHABET",
    "WRONG_CODES_ALLOWED",
    "AuthError",
    "Throttle",
    "Throttled",
    "join_code",
    "matches",
    "new_token",
]

#: Upper-case letters and digits without 0/O, 1/I/L, 5/S.
CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXYZ23456789"
CODE_LENGTH = 6


#: Wrong join codes a client may send within :data:`WRONG_CODES_WINDOW` seconds.
WRONG_CODES_ALLOWED = 5
WRONG_CODES_WINDOW = 60.0
#: The first lock-out, doubled at each next one, up to :data:`LOCKOUT_MAX`.
LOCKOUT = 60.0
LOCKOUT_MAX = 3600.0
#: Clients remembered at most (a flood of addresses cannot grow memory without bound).
MAX_CLIENTS = 10_000


class AuthError(PermissionError):
    """A missing or wrong join code or token (the message never echoes what was sent)."""


class Throttled(AuthError):
    """Too many wrong join codes from one client: refused for ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many wrong join codes from this address: try again in {self.retry_after} s"
        )


class Throttle:
    """Wrong join codes counted per client; a client over the limit is locked out.

    A right code does not clear the count (someone holding one code could otherwise
    alternate it with guesses). Thread-safe: the server's requests and pages share one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._wrong: dict[str, deque[float]] = {}
        self._locked: dict[str, tuple[float, int]] = {}  # client -> (until, lock-outs so far)

    def check(self, client: str) -> None:
        """Raise :class:`Throttled` if ``client`` is locked out now."""
        with self._lock:
            until, _ = self._locked.get(client, (0.0, 0))
            left = until - self.clock()
        if left > 0:
            raise Throttled(left)

    def wrong(self, client: str) -> None:
        """Count a wrong code from ``client``; lock it out when over the limit."""
        now = self.clock()
        with self._lock:
            if len(self._wrong) >= MAX_CLIENTS and client not in self._wrong:
                self._forget(now)
            times = self._wrong.setdefault(client, deque())
            times.append(now)
            while times and times[0] <= now - WRONG_CODES_WINDOW:
                times.popleft()
            if len(times) >= WRONG_CODES_ALLOWED:
                _, strikes = self._locked.get(client, (0.0, 0))
                self._locked[client] = (now + min(LOCKOUT_MAX, LOCKOUT * 2**strikes), strikes + 1)
                times.clear()

    def _forget(self, now: float) -> None:
        """Drop clients with no recent wrong code and no lock-out in force."""
        for client in list(self._wrong):
            times = self._wrong[client]
            if (not times or times[-1] <= now - WRONG_CODES_WINDOW) and self._locked.get(
                client, (0.0, 0)
            )[0] <= now:
                del self._wrong[client]
                self._locked.pop(client, None)


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
