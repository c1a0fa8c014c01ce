"""Who a browser session belongs to, as `quality.accounts.Principal.user` carries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SessionUser:
    user_id: int
    username: str
    display_name: str
    language: str
    session_id: int
    expires_at: datetime
    must_change_password: bool = False
