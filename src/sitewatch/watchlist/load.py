"""Reading and writing watchlist files (GeoJSON, YAML): the watchlist package's only file I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sitewatch.core.models import Site
from sitewatch.errors import InputError, WatchlistError
from sitewatch.watchlist.document import (
    DEFAULT_MAX_SITE_AREA_KM2,
    sites_from_document,
    sites_to_document,
)


def parse_watchlist(
    text: str, name: str, max_site_area_km2: float = DEFAULT_MAX_SITE_AREA_KM2
) -> list[Site]:
    """Parse watchlist text (JSON/GeoJSON or YAML; YAML is a superset) into validated sites.

    Raises:
        WatchlistError, GeometryError: with `name` (the file) and the problem.
    """
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WatchlistError(f"{name}: not valid YAML or JSON: {exc}".splitlines()[0]) from exc
    try:
        return sites_from_document(doc, max_site_area_km2)
    except InputError as exc:
        raise type(exc)(f"{name}: {exc}") from exc


def load_watchlist(path: Path, max_site_area_km2: float = DEFAULT_MAX_SITE_AREA_KM2) -> list[Site]:
    """Read and validate a watchlist file.

    Raises:
        InputError: the file cannot be read or is not a valid watchlist.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read watchlist: {exc}") from exc
    return parse_watchlist(text, str(path), max_site_area_km2)


def dump_watchlist(sites: Sequence[Site], form: str = "geojson") -> str:
    """Serialise sites as GeoJSON or YAML text that `parse_watchlist` reads back."""
    doc = sites_to_document(sites, "geojson" if form == "geojson" else "yaml")
    if form == "geojson":
        return json.dumps(doc, indent=2) + "\n"
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
