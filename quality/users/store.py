"""Users: created and changed by an admin, signed in by name and password.

Sign-in answers one way for a wrong password, an unknown name and a deactivated user
(`SignInRefused`), and spends the same argon2 work on each, so neither the answer nor
its time tells who exists. Past the throttle's limit it answers `Throttled` before
any password is checked. A password reset or a deactivation revokes the user's sessions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.accounts import Principal
from quality.i18n import DEFAULT_LANGUAGE
from quality.tickets.lifecycle import Role
from quality.users import fields
from quality.users.errors import InvalidInput, SignInRefused, Throttled, UnknownUser, UsernameTaken
from quality.users.identity import SessionUser
from quality.users.models import User
from quality.users.passwords import (
    check_policy,
    hash_password,
    needs_rehash,
    one_time_password,
    verify_dummy,
    verify_password,
)
from quality.users.sessions import SessionPolicy, SessionStore, csrf_token
from quality.users.throttle import LoginThrottle, ThrottlePolicy


class _Unset:
    """A field left as it is (None is a value: 'no contractor')."""


UNSET: Final = _Unset()


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as admins and the user see it: never the password hash."""

    id: int
    username: str
    display_name: str
    role: str
    contractor: str | None
    language: str
    active: bool
    must_change_password: bool
    created_at: datetime
    updated_at: datetime
    password_changed_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def of(cls, row: User) -> UserView:
        created, updated = aware(row.created_at), aware(row.updated_at)
        changed = aware(row.password_changed_at)
        assert created is not None and updated is not None and changed is not None
        return cls(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            contractor=row.contractor,
            language=row.language,
            active=row.active,
            must_change_password=row.must_change_password,
            created_at=created,
            updated_at=updated,
            password_changed_at=changed,
            last_sign_in_at=aware(row.last_sign_in_at),
        )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: `secret` goes in the session cookie, `csrf` in the readable one."""

    secret: str
    csrf: str
    expires_at: datetime
    user: UserView


@dataclass(frozen=True, slots=True)
class NewPassword:
    """A password set by an admin; `one_time` is the generated one, shown once, if any."""

    user: UserView
    one_time: str | None
    sessions_revoked: int


def _throttle_key(username: str) -> str:
    """The name as the throttle counts it: a user name as stored, or a digest of anything
    that cannot be one (it may hold what no database column takes)."""
    key = username.strip().lower()
    if fields.USERNAME.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"#{digest[:40]}"


class UserStore:
    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        session_policy: SessionPolicy | None = None,
        throttle_policy: ThrottlePolicy | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.sessions = SessionStore(engine, self.clock, session_policy)
        self.throttle = LoginThrottle(engine, self.clock, throttle_policy)

    # --- administration -------------------------------------------------------------

    def create(
        self,
        username: str,
        role: str,
        display_name: str | None = None,
        contractor: str | None = None,
        language: str = DEFAULT_LANGUAGE,
        password: str | None = None,
    ) -> NewPassword:
        """A new user. Without `password` a one-time password is made, returned once, and
        must be changed at the first sign-in."""
        name = fields.username(username)
        row = User(
            username=name,
            display_name=fields.display_name(display_name or name),
            role=fields.role(role).value,
            contractor=fields.contractor(contractor),
            language=fields.language(language),
            active=True,
        )
        secret, one_time = self._chosen_password(name, password)
        now = self.clock.now()
        row.password_hash = hash_password(secret)
        row.must_change_password = one_time is not None
        row.created_at = row.updated_at = row.password_changed_at = now
        with Session(self.engine, expire_on_commit=False) as db:
            if db.scalar(select(User.id).where(User.username == name)) is not None:
                raise UsernameTaken(name)
            db.add(row)
            try:
                db.commit()
            except IntegrityError:  # created at the same moment by someone else
                raise UsernameTaken(name) from None
            return NewPassword(UserView.of(row), one_time, 0)

    def get(self, username: str) -> UserView:
        with Session(self.engine) as db:
            return UserView.of(self._row(db, username))

    def list(self) -> Sequence[UserView]:
        with Session(self.engine) as db:
            return [UserView.of(row) for row in db.scalars(select(User).order_by(User.username))]

    def update(
        self,
        username: str,
        *,
        display_name: str | _Unset = UNSET,
        role: str | _Unset = UNSET,
        contractor: str | _Unset | None = UNSET,
        language: str | _Unset = UNSET,
        active: bool | _Unset = UNSET,
    ) -> UserView:
        """Change what is given; deactivating signs the user out everywhere."""
        with Session(self.engine, expire_on_commit=False) as db:
            row = self._row(db, username)
            if not isinstance(display_name, _Unset):
                row.display_name = fields.display_name(display_name)
            if not isinstance(role, _Unset):
                row.role = fields.role(role).value
            if not isinstance(contractor, _Unset):
                row.contractor = fields.contractor(contractor)
            if not isinstance(language, _Unset):
                row.language = fields.language(language)
            if not isinstance(active, _Unset):
                row.active = active
                if not active:
                    self.sessions.revoke_user(db, row.id, "deactivated")
            row.updated_at = self.clock.now()
            db.commit()
            return UserView.of(row)

    def reset_password(self, username: str, password: str | None = None) -> NewPassword:
        """An admin sets a new password (a one-time one when none is given) and every
        session of the user ends."""
        with Session(self.engine, expire_on_commit=False) as db:
            row = self._row(db, username)
            secret, one_time = self._chosen_password(row.username, password)
            self._set_password(row, secret, must_change=one_time is not None)
            revoked = self.sessions.revoke_user(db, row.id, "password_reset")
            db.commit()
            return NewPassword(UserView.of(row), one_time, revoked)

    # --- the user themself ----------------------------------------------------------

    def sign_in(self, username: str, password: str, client: str | None) -> SignedIn:
        """A session for the user, or `Throttled` / `SignInRefused` (the same for every
        kind of failure)."""
        key = _throttle_key(username)
        wait = self.throttle.retry_after(key, client)
        if wait is not None:
            raise Throttled(wait)
        with Session(self.engine, expire_on_commit=False) as db:
            row = (
                db.scalar(select(User).where(User.username == key))
                if fields.USERNAME.fullmatch(key)
                else None
            )
            if row is None:
                verify_dummy(password)
                good = False
            else:
                good = verify_password(row.password_hash, password) and row.active
            if not good or row is None:
                self.throttle.record_failure(key, client)
                raise SignInRefused()
            if needs_rehash(row.password_hash):
                row.password_hash = hash_password(password)
            row.last_sign_in_at = self.clock.now()
            secret, opened = self.sessions.open(db, row.id, client)
            db.commit()
            expires_at = aware(opened.expires_at)
            assert expires_at is not None
            view = UserView.of(row)
        self.throttle.forget_user(key)
        return SignedIn(secret, csrf_token(secret), expires_at, view)

    def principal(self, secret: str) -> Principal | None:
        """The caller a session cookie names, or None when the session is not live."""
        live = self.sessions.find(secret)
        if live is None:
            return None
        user = live.user
        return Principal(
            token_id=None,
            name=user.username,
            role=Role(user.role),
            contractor=user.contractor,
            user=SessionUser(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                language=user.language,
                session_id=live.session_id,
                expires_at=live.expires_at,
                must_change_password=user.must_change_password,
            ),
        )

    def sign_out(self, session_id: int) -> None:
        self.sessions.revoke(session_id, "signed_out")

    def change_password(self, user: SessionUser, current: str, new: str, client: str | None) -> int:
        """The user's own change: the current password is checked (and a wrong one counts
        as a failed sign-in), the new one meets the policy, and every other session of the
        user ends. Returns how many ended."""
        wait = self.throttle.retry_after(user.username, client)
        if wait is not None:
            raise Throttled(wait)
        with Session(self.engine, expire_on_commit=False) as db:
            row = self._row(db, user.username)
            if not verify_password(row.password_hash, current):
                self.throttle.record_failure(user.username, client)
                raise InvalidInput("accounts.error.current_password", "current_password")
            check_policy(new, row.username, "new_password")
            if new == current:
                raise InvalidInput("accounts.error.password_same", "new_password")
            self._set_password(row, new, must_change=False)
            revoked = self.sessions.revoke_user(
                db, row.id, "password_changed", keep=user.session_id
            )
            db.commit()
            return revoked

    def set_language(self, user: SessionUser, language: str) -> UserView:
        return self.update(user.username, language=language)

    # --- helpers --------------------------------------------------------------------

    def _row(self, db: Session, username: str) -> User:
        key = username.strip().lower()
        if not fields.USERNAME.fullmatch(key):
            raise UnknownUser(key)  # not a name at all: no query for the driver to choke on
        row = db.scalar(select(User).where(User.username == key))
        if row is None:
            raise UnknownUser(key)
        return row

    @staticmethod
    def _chosen_password(username: str, password: str | None) -> tuple[str, str | None]:
        if password is None:
            made = one_time_password()
            return made, made
        check_policy(password, username)
        return password, None

    def _set_password(self, row: User, password: str, must_change: bool) -> None:
        now = self.clock.now()
        row.password_hash = hash_password(password)
        row.must_change_password = must_change
        row.password_changed_at = row.updated_at = now
