"""Refusals that name the field and the fix, in every language (`accounts.*` keys of the
catalog), for the API and the command line alike."""

from __future__ import annotations

from quality.i18n import Language, text, texts


class AccountError(Exception):
    """Something about an account a person must fix; `key` is a catalog key."""

    def __init__(self, key: str, field: str | None = None, /, **params: object) -> None:
        self.key = key
        self.field = field
        self.params = params
        super().__init__(text(key, "en", **params))

    def say(self, language: str) -> str:
        return text(self.key, language, **self.params)

    def both(self) -> dict[Language, str]:
        return texts(self.key, **self.params)


class InvalidInput(AccountError):
    """A field is wrong: nothing was stored."""


class UnknownUser(AccountError):
    """No such user (only said to admins: sign-in never tells)."""

    def __init__(self, username: str) -> None:
        super().__init__("accounts.error.no_user", "username", username=username)


class UsernameTaken(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__("accounts.error.username_taken", "username", username=username)


class SignInRefused(AccountError):
    """Wrong name or password, or an inactive account: one answer for all of them."""

    def __init__(self) -> None:
        super().__init__("accounts.error.sign_in_refused", None)


class Throttled(AccountError):
    """Too many failed sign-ins from this name or address: wait `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        minutes = max(1, -(-retry_after_s // 60))
        super().__init__("accounts.error.throttled", None, minutes=minutes)
