"""Inspection stores on both real backends (the ticket tests' SQLite + PostgreSQL engines)."""

from __future__ import annotations

from tests.quality.tickets.conftest import engine_factory

__all__ = ["engine_factory"]
