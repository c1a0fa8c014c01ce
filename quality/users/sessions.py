"""Browser sessions kept on the server: a random secret in the cookie, its SHA-256 in the
database, an absolute lifetime and an idle timeout, and revocation (sign-out, a password
reset or change, a deactivated user).

The CSRF token is derived from the session's secret (an HMAC), so the token a write
echoes must belong to the very session it rides on, not merely match a cookie that a
neighbouring site could have planted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.users.models import User, UserSession


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    lifetime: timedelta = timedelta(hours=12)  # a working day, then sign in again
    idle: timedelta = timedelta(hours=2)  # unused this long: signed out
    # `last_seen_at` is written at most this often, not on every request.
    touch_every: timedelta = timedelta(minutes=1)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_token(secret: str) -> str:
    """The CSRF token of the session whose cookie holds `secret`."""
    mac = hmac.new(secret.encode("utf-8", "surrogatepass"), b"facmon-csrf", hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def csrf_matches(secret: str, cookie: str | None, header: str | None) -> bool:
    """The header echoes the cookie, and both are this session's token (constant time)."""
    if not cookie or not header:
        return False
    expected = csrf_token(secret).encode()
    echoed = hmac.compare_digest(
        header.encode("utf-8", "replace"), cookie.encode("utf-8", "replace")
    )
    return hmac.compare_digest(cookie.encode("utf-8", "replace"), expected) and echoed


@dataclass(frozen=True, slots=True)
class LiveSession:
    session_id: int
    expires_at: datetime
    user: User


class SessionStore:
    def __init__(
        self, engine: Engine, clock: Clock | None = None, policy: SessionPolicy | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.policy = policy or SessionPolicy()

    def open(self, session: Session, user_id: int, client: str | None) -> tuple[str, UserSession]:
        """A new session for `user_id` in the caller's transaction; the secret is returned
        once and only its hash is stored."""
        now = self.clock.now()
        secret = new_secret()
        row = UserSession(
            secret_hash=hash_secret(secret),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.lifetime,
            client=(client or "")[:64] or None,
        )
        session.add(row)
        session.flush()
        return secret, row

    def find(self, secret: str) -> LiveSession | None:
        """The live session whose cookie holds `secret`: not revoked, not past its lifetime
        or idle timeout, and of an active user. Marks it seen."""
        now = self.clock.now()
        with Session(self.engine, expire_on_commit=False) as db:
            found = db.execute(
                select(UserSession, User)
                .join(User, User.id == UserSession.user_id)
                .where(UserSession.secret_hash == hash_secret(secret))
                .where(UserSession.revoked_at.is_(None))
            ).first()
            if found is None:
                return None
            row, user = found
            expires_at = aware(row.expires_at)
            last_seen = aware(row.last_seen_at)
            assert expires_at is not None and last_seen is not None
            if not user.active or now >= expires_at or now >= last_seen + self.policy.idle:
                return None
            if now - last_seen >= self.policy.touch_every:
                db.execute(
                    update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
                )
                db.commit()
            return LiveSession(row.id, expires_at, user)

    def revoke(self, session_id: int, reason: str) -> None:
        with Session(self.engine) as db:
            db.execute(
                update(UserSession)
                .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
                .values(revoked_at=self.clock.now(), revoked_reason=reason)
            )
            db.commit()

    def revoke_user(self, db: Session, user_id: int, reason: str, keep: int | None = None) -> int:
        """Revoke every live session of `user_id` (but `keep`) in the caller's transaction."""
        query = update(UserSession).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(UserSession.id != keep)
        result = db.execute(
            query.values(revoked_at=self.clock.now(), revoked_reason=reason).returning(
                UserSession.id
            )
        )
        return len(result.all())
