"""The watchlist document (GeoJSON or YAML): loading, validation and export of sites and zones."""

from sitewatch.watchlist.document import sites_from_document, sites_to_document
from sitewatch.watchlist.load import dump_watchlist, load_watchlist, parse_watchlist

__all__ = [
    "dump_watchlist",
    "load_watchlist",
    "parse_watchlist",
    "sites_from_document",
    "sites_to_document",
]
