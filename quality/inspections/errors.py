"""Errors of the inspection room, each with the HTTP answer it maps to and its words in
English and Chinese."""

from __future__ import annotations

from quality.ledger.messages import Text


class InspectionError(Exception):
    status = 400

    def __init__(self, message: Text, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message.en)


class NotFound(InspectionError):
    status = 404


class Conflict(InspectionError):
    status = 409


class Invalid(InspectionError):
    status = 422
