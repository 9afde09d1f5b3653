"""The sitewatch exception hierarchy. Imports nothing third-party.

Every error message names the value, the problem and the fix. The CLI maps
`InputError` to exit code 2 and every other `SitewatchError` to exit code 1.
"""

from __future__ import annotations


class SitewatchError(Exception):
    """Root of every error sitewatch raises on purpose."""


class InputError(SitewatchError, ValueError):
    """Bad input from the user: a file, a document, an option."""


class WatchlistError(InputError):
    """A watchlist document that cannot be accepted."""


class GeometryError(InputError):
    """A geometry that is invalid, empty, out of range or too large."""


class ConfigError(InputError):
    """A setting or option with a value that cannot be used."""


class RuleError(InputError):
    """An indicator rule that cannot be accepted."""


class NotGeoreferencedError(InputError):
    """A raster without a CRS or a geotransform."""


class NoOverlapError(InputError):
    """A scene or chip that does not overlap the area asked for."""


class NotFoundError(SitewatchError, LookupError):
    """An id that the store does not know."""


class ImageryReadError(SitewatchError, OSError):
    """Pixels or metadata that could not be read at run time."""


class ModelError(SitewatchError):
    """A detector model that cannot be loaded or does not match its declared layout."""


class StoreError(SitewatchError):
    """The store could not complete an operation."""


class MissingDependencyError(SitewatchError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


class DeliveryError(SitewatchError):
    """An alert could not be delivered to a sink this time; the outbox will try again."""
