"""Dashboard sign-in: the password check, the signed session cookie, CSRF tokens, login throttling.

- The password is the secret ``dashboard.password`` (encrypted in the store like every
  credential); it is read at each login, so ``secrets set`` takes effect without a restart, and
  compared in constant time.
- The session is a cookie signed (HMAC, itsdangerous) with ``dashboard.session_key``, a random key
  created in the store on first use, so every web process of an installation accepts the same
  sessions and a restart logs nobody out. It carries the user's name, a CSRF token and its issue
  time, and a keyed hash of the password it was opened with, so changing the password logs every
  session out; it is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over HTTPS, and expires after
  ``web.session_hours``.
- Every POST carries the session's CSRF token in a form field, compared in constant time. The login
  form itself is protected the same way by a short-lived pre-session cookie (double submit).
- Failed logins are counted per client address; after ``web.login_attempts`` failures in 15
  minutes that address is refused until the window passes.
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ml_connector.clock import Clock

SESSION_COOKIE = "mlc_session"
LOGIN_COOKIE = "mlc_login"
PASSWORD_SECRET = "dashboard.password"  # noqa: S105 (a secret's name)
SESSION_KEY_SECRET = "dashboard.session_key"  # noqa: S105 (a secret's name)
LOGIN_FORM_SECONDS = 1800
THROTTLE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionUser:
    name: str
    csrf: str


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; a missing one never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class SessionSigner:
    """Signs and reads the session and login-form cookies; the clock decides expiry."""

    key: str
    clock: Clock
    session_seconds: int

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt=salt)

    def _loads(self, salt: str, value: str | None, max_age: int) -> dict[str, Any] | None:
        if not value:
            return None
        try:
            data = self._serializer(salt).loads(value)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        issued = data.get("iat")
        now = self.clock.now().timestamp()
        # expiry by the injected clock (itsdangerous' own check would read the wall clock)
        if not isinstance(issued, int | float) or not (issued - 60 <= now <= issued + max_age):
            return None
        return data

    def fingerprint(self, password: str) -> str:
        """What a session remembers of the password it was opened with: a keyed hash, so the
        cookie says nothing about the password, and a new password ends every older session."""
        digest = hmac.new(self.key.encode(), b"password:" + password.encode(), "sha256")
        return digest.hexdigest()[:32]

    def dump_session(self, user: SessionUser, password: str) -> str:
        return str(
            self._serializer("session").dumps(
                {
                    "user": user.name,
                    "csrf": user.csrf,
                    "pw": self.fingerprint(password),
                    "iat": self.clock.now().timestamp(),
                }
            )
        )

    def load_session(self, value: str | None, password: str | None) -> SessionUser | None:
        """The session's user, or None: unsigned, expired, or opened with another password
        (``password`` is the current one; None when none is set)."""
        data = self._loads("session", value, self.session_seconds)
        if data is None or password is None:
            return None
        name, csrf = data.get("user"), data.get("csrf")
        if not isinstance(name, str) or not isinstance(csrf, str):
            return None
        if not same(str(data.get("pw", "")), self.fingerprint(password)):
            return None
        return SessionUser(name=name, csrf=csrf)

    def dump_login(self, token: str) -> str:
        return str(
            self._serializer("login").dumps({"csrf": token, "iat": self.clock.now().timestamp()})
        )

    def load_login(self, value: str | None) -> str | None:
        data = self._loads("login", value, LOGIN_FORM_SECONDS)
        token = data.get("csrf") if data else None
        return token if isinstance(token, str) else None


@dataclass
class LoginThrottle:
    """At most ``attempts`` failed logins per client address in a sliding 15-minute window."""

    clock: Clock
    attempts: int
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def _recent(self, client: str) -> deque[datetime]:
        now = self.clock.now()
        failures = self._failures.setdefault(client, deque())
        while failures and now - failures[0] >= THROTTLE_WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return deque()
        return failures

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.attempts

    def failed(self, client: str) -> None:
        self._recent(client)
        self._failures.setdefault(client, deque()).append(self.clock.now())
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
