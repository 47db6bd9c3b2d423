"""Signed session cookies for the web pages, and the CSRF token every form carries.

An API key pasted on the sign-in page becomes a session: a cookie holding the key's id, a CSRF
token and an expiry, signed with HMAC-SHA256. The cookie never holds the key's secret, so a copy
of it stops working when it expires; the key itself is looked up on every request
(`api.web.access`), so revoking it, or erasing the profile an owner key belongs to, signs its
sessions out. Before sign-in the same cookie, without a key id, carries the sign-in form's token.

The signing secret is made once per store and kept beside it (`session_secret`): sessions survive
a restart and hold across every server process on the same store, and deleting the file signs
everyone out. The file is created with 0600 permissions, like the rest of the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["COOKIE", "LIFETIME_S", "SECRET_FILE", "Session", "SessionSigner", "session_secret", "set_cookie"]

COOKIE = "matcher_session"
LIFETIME_S = 8 * 3600  # a working day; signing in again takes one paste
ANONYMOUS_LIFETIME_S = 3600  # the sign-in form's token
SECRET_FILE = "web-session.key"


@dataclass(frozen=True)
class Session:
    """Who signed in (`key_id`; empty before sign-in), the CSRF token of their forms, and when the
    session ends (seconds since the epoch)."""

    key_id: str
    csrf: str
    expires: int

    @classmethod
    def new(cls, key_id: str = "") -> Session:
        lifetime = LIFETIME_S if key_id else ANONYMOUS_LIFETIME_S
        return cls(key_id, secrets.token_urlsafe(24), int(time.time()) + lifetime)

    @property
    def signed_in(self) -> bool:
        return bool(self.key_id)

    def token_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


class SessionSigner:
    """Turns a `Session` into a cookie value and back; a value that was altered, or has expired,
    reads as no session."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, payload, hashlib.sha256).digest())

    def dump(self, session: Session) -> str:
        payload = json.dumps([session.key_id, session.csrf, session.expires], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def load(self, value: str | None) -> Session | None:
        if not value or len(value) > 512 or value.count(".") != 1:
            return None
        body, signature = value.split(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            key_id, csrf, expires = json.loads(payload)
            session = Session(str(key_id), str(csrf), int(expires))
        except (ValueError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def read(self, request: Request) -> Session | None:
        return self.load(request.cookies.get(COOKIE))


def set_cookie(response: Response, request: Request, signer: SessionSigner, session: Session | None) -> None:
    """Put `session` in the response's cookie (HttpOnly, SameSite=Strict, Secure over TLS), or
    remove the cookie when `session` is None."""
    secure = request.url.scheme == "https"
    if session is None:
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
        return
    response.set_cookie(
        COOKIE, signer.dump(session), max_age=max(0, session.expires - int(time.time())), path="/",
        secure=secure, httponly=True, samesite="strict",
    )


def session_secret(home: Path) -> bytes:
    """The store's session signing secret: read from `home`/web-session.key, made there on first
    use (0600, written whole before anyone can read it)."""
    path = home / SECRET_FILE
    kept = _read_secret(path)
    if kept is not None:
        return kept
    home.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    temporary = home / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(fresh + "\n")
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(temporary, path)  # the first process to get here wins; the others read its secret
    except FileExistsError:
        kept = _read_secret(path)
        if kept is not None:
            return kept
        os.replace(temporary, path)  # a damaged secret is replaced, which signs everyone out
    finally:
        temporary.unlink(missing_ok=True)
    return bytes.fromhex(fresh)


def _read_secret(path: Path) -> bytes | None:
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return secret if len(secret) >= 32 else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
