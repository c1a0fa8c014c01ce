"""Failed sign-ins counted per user name and per client address over a sliding window.

Past the limit, sign-in answers "try again in N minutes" without checking the password,
so guessing costs the guesser time and the server no hashing. Names that have no user
are counted like any other, so the limit says nothing about who exists. The address
limit is higher than the name's: an office signs in from one address.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from contract.clock import Clock, SystemClock, aware
from quality.users.models import LoginFailure


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    per_user: int = 5
    per_client: int = 20
    window: timedelta = timedelta(minutes=15)


class LoginThrottle:
    def __init__(
        self, engine: Engine, clock: Clock | None = None, policy: ThrottlePolicy | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.policy = policy or ThrottlePolicy()

    def _keys(self, username: str, client: str | None) -> list[tuple[str, str, int]]:
        keys = [("user", username[:128], self.policy.per_user)]
        if client:
            keys.append(("client", client[:128], self.policy.per_client))
        return keys

    def retry_after(self, username: str, client: str | None) -> int | None:
        """Seconds until a sign-in for `username` from `client` is heard again, or None."""
        now = self.clock.now()
        since = now - self.policy.window
        waits: list[float] = []
        with Session(self.engine) as db:
            for scope, key, limit in self._keys(username, client):
                recent = db.scalars(
                    select(LoginFailure.at)
                    .where(LoginFailure.scope == scope, LoginFailure.key == key)
                    .where(LoginFailure.at > since)
                    .order_by(LoginFailure.at.desc())
                    .limit(limit)
                ).all()
                if len(recent) >= limit:
                    # Once the limit-th newest failure leaves the window, one try is free.
                    oldest: datetime | None = aware(recent[-1])
                    assert oldest is not None
                    waits.append((oldest + self.policy.window - now).total_seconds())
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def record_failure(self, username: str, client: str | None) -> None:
        now = self.clock.now()
        with Session(self.engine) as db:
            db.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.policy.window))
            for scope, key, _limit in self._keys(username, client):
                db.add(LoginFailure(scope=scope, key=key, at=now))
            db.commit()

    def forget_user(self, username: str) -> None:
        """A good sign-in clears the name's count (never the address's)."""
        with Session(self.engine) as db:
            db.execute(
                delete(LoginFailure).where(
                    LoginFailure.scope == "user", LoginFailure.key == username[:128]
                )
            )
            db.commit()
