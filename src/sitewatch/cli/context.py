"""The per-invocation context: settings and the store, opened lazily."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from sitewatch.config import Settings
from sitewatch.core.ports import Store
from sitewatch.store.sqlite import open_store


@dataclass
class AppContext:
    """Settings read once at the edge, and the store opened on first use."""

    settings: Settings
    verbose: bool = False
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        """The store under settings.home (created and migrated on first use)."""
        if self._store is None:
            self._store = open_store(self.settings.home)
        return self._store


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext the root callback put on the click context."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):
        raise RuntimeError("sitewatch CLI context missing")
    return obj
