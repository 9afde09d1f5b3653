"""Frozen value objects passed between compute functions, and the ports (Protocols)."""

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
from sitewatch.core.ports import Store

__all__ = [
    "Chip",
    "ChipRecord",
    "Coregistration",
    "Coverage",
    "ObjectClass",
    "QualityThresholds",
    "RunReport",
    "Scene",
    "Site",
    "SiteGrid",
    "Store",
    "Zone",
    "ZoneKind",
    "ZoneQuality",
]
