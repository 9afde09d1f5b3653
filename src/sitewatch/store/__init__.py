"""The store: SQLAlchemy tables, Alembic migrations and the SQLite implementation."""

from sitewatch.store.sqlite import SqliteStore, open_store

__all__ = ["SqliteStore", "open_store"]
