"""Importing a watchlist: validate, fix each site's grid, store, and recompute coverage from footprints."""

from __future__ import annotations

from pathlib import Path

from sitewatch.core.models import Site
from sitewatch.core.ports import Store
from sitewatch.geo.coverage import compute_coverage
from sitewatch.geo.grid import grid_for_site
from sitewatch.watchlist.load import load_watchlist


def import_sites(path: Path, store: Store, max_site_area_km2: float) -> list[Site]:
    """Load and validate a watchlist, then insert or update its sites in one transaction.

    Coverage of every known scene is recomputed for the imported sites (zones may have moved).

    Raises:
        InputError: the watchlist is invalid (nothing is stored then).
    """
    sites = load_watchlist(path, max_site_area_km2)
    store.upsert_sites([(s, grid_for_site(s)) for s in sites])
    scenes = store.list_scenes()
    for s in sites:
        rows = [row for sc in scenes for row in compute_coverage(sc.id, sc.footprint, s)]
        store.replace_coverage(s.id, rows)
    return sites
