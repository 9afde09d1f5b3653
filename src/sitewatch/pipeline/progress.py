"""The progress callback type that long work reports through (the CLI draws it)."""

from __future__ import annotations

from collections.abc import Callable

# progress(done, total, label)
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, label: str) -> None:
    """A progress callback that does nothing."""
