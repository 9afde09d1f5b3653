"""sitewatch: watch facilities in dated satellite images and report when activity departs from normal.

The public API is what `__all__` lists; everything else is internal.
"""

from sitewatch.core.models import (
    Chip,
    ChipRecord,
    Coregistration,
    Coverage,
    ObjectClass,
    QualityThresholds,
    RunReport,
    Scene,
    Site,
    SiteGrid,
    Zone,
    ZoneKind,
    ZoneQuality,
)
from sitewatch.errors import (
    ConfigError,
    GeometryError,
    ImageryReadError,
    InputError,
    MissingDependencyError,
    ModelError,
    NoOverlapError,
    NotFoundError,
    NotGeoreferencedError,
    RuleError,
    SitewatchError,
    StoreError,
    WatchlistError,
)
from sitewatch.types import Bounds

__version__ = "0.1.0"

__all__ = [
    "Bounds",
    "Chip",
    "ChipRecord",
    "ConfigError",
    "Coregistration",
    "Coverage",
    "GeometryError",
    "ImageryReadError",
    "InputError",
    "MissingDependencyError",
    "ModelError",
    "NoOverlapError",
    "NotFoundError",
    "NotGeoreferencedError",
    "ObjectClass",
    "QualityThresholds",
    "RuleError",
    "RunReport",
    "Scene",
    "Site",
    "SiteGrid",
    "SitewatchError",
    "StoreError",
    "WatchlistError",
    "Zone",
    "ZoneKind",
    "ZoneQuality",
    "__version__",
]
