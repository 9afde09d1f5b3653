"""Small value types shared by every layer: bounds, time helpers, id checks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import NamedTuple

from sitewatch.errors import InputError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Bounds(NamedTuple):
    """An axis-aligned box, always (west, south, east, north), in the units of its CRS."""

    west: float
    south: float
    east: float
    north: float


def utc_now() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC; naive datetimes are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date or datetime, or a TIFF `YYYY:MM:DD HH:MM:SS` stamp, into UTC.

    Raises:
        InputError: the text is not a date or datetime.
    """
    raw = text.strip()
    tiff = re.fullmatch(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})", raw)
    if tiff:
        y, mo, d, h, mi, s = (int(p) for p in tiff.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return as_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InputError(
            f"'{text}' is not a date or time; use ISO 8601, e.g. 2019-02-22 or 2019-02-22T10:30:00Z"
        ) from exc


def check_slug(value: str, what: str) -> str:
    """Return `value` if it is a valid id (lowercase slug), else raise InputError naming `what`."""
    if not SLUG_RE.fullmatch(value):
        raise InputError(
            f"{what} id '{value}' is not a slug: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value
