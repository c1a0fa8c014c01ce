"""The delivery tests' outbox fixtures (a SQLite ticket database, a manual clock)."""

from tests.quality.delivery.conftest import clock, sqlite_engine

__all__ = ["clock", "sqlite_engine"]
