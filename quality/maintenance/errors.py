"""Errors of the maintenance room, each with the HTTP answer it maps to and its words in
English and Chinese (the field it names, and the fix)."""

from __future__ import annotations

from quality.ledger.messages import Text


class MaintenanceError(Exception):
    status = 400

    def __init__(self, message: Text, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message.en)


class NotFound(MaintenanceError):
    status = 404


class Invalid(MaintenanceError):
    status = 422
