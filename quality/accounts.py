"""API tokens: random bearer secrets stored only as SHA-256 hashes, each with one role.
People sign in with a name and password instead (`quality.users`); both end up as a
`Principal`.

A token is shown once, when created. Roles rank viewer < inspector (巡检员) < engineer <
quality < admin; each may do what the roles below it may.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, Engine, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from contract.clock import utcnow
from quality.tickets.lifecycle import Role
from storage.sql import Base

if TYPE_CHECKING:
    from quality.users.identity import SessionUser

TOKEN_PREFIX = "fm_"
HUMAN_ROLES = (Role.VIEWER, Role.INSPECTOR, Role.ENGINEER, Role.QUALITY, Role.ADMIN)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # A contractor's (维保单位) token sees and acts on that contractor's tickets only.
    contractor: Mapped[str | None] = mapped_column(String(128), nullable=True)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token (`token_id`) or a person signed in (`user`, by session).
    `name` is what the ticket history records: the token's name or the user name."""

    token_id: int | None
    name: str
    role: Role
    contractor: str | None = None  # set: only the tickets dispatched to this contractor
    user: SessionUser | None = None  # set: signed in with a session cookie


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, role: str, name: str, contractor: str | None = None) -> tuple[int, str]:
        """A new token; the plain text is returned here and never stored. `contractor`
        scopes it to the tickets dispatched to that contractor."""
        parsed = Role(role)
        if parsed not in HUMAN_ROLES:
            raise ValueError(f"role must be one of {', '.join(r.value for r in HUMAN_ROLES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session:
            row = ApiToken(
                name=name,
                role=parsed.value,
                token_hash=hash_token(token),
                revoked=False,
                contractor=contractor or None,
            )
            session.add(row)
            session.commit()
            return row.id, token

    def authenticate(self, token: str) -> Principal | None:
        with Session(self.engine) as session:
            row = session.scalars(
                select(ApiToken).where(
                    ApiToken.token_hash == hash_token(token), ApiToken.revoked.is_(False)
                )
            ).first()
            if row is None:
                return None
            return Principal(row.id, row.name, Role(row.role), row.contractor)

    def list(self) -> Sequence[ApiToken]:
        with Session(self.engine) as session:
            return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()

    def revoke(self, token_id: int) -> bool:
        with Session(self.engine) as session:
            changed = session.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id)
                .values(revoked=True)
                .returning(ApiToken.id)
            ).first()
            session.commit()
            return changed is not None
