"""What to ingest: GeoTIFF files, folders (recursively) and STAC Item, Catalog and ItemCollection JSON.

STAC documents are expanded into their local GeoTIFF assets with the item's metadata as hints
(datetime, platform, view:off_nadir, view:sun_elevation). Remote assets are refused: sitewatch
reads only local files (download them first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pystac
from pystac.errors import STACError

from sitewatch.errors import InputError
from sitewatch.imagery.scenes import SceneHints
from sitewatch.types import as_utc

RASTER_SUFFIXES = {".tif", ".tiff", ".gtiff"}
TIFF_MEDIA = ("image/tiff", "image/geotiff", "image/vnd.stac.geotiff")
SKIPPED_ROLES = {"thumbnail", "overview", "metadata"}


@dataclass(frozen=True)
class IngestInput:
    """One raster to ingest, with where it came from and the hints its source gave."""

    path: Path
    source: str
    hints: SceneHints


def _is_stac(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(doc, dict) and ("stac_version" in doc or doc.get("type") == "FeatureCollection"):
        return doc
    return None


def _item_hints(item: pystac.Item, fallback: datetime | None) -> SceneHints:
    props = item.properties
    when = item.datetime or (item.common_metadata.start_datetime if item.common_metadata else None)
    sensor = props.get("platform") or props.get("constellation")
    instruments = props.get("instruments")
    if sensor and instruments:
        sensor = f"{sensor}/{','.join(instruments)}"
    extra: dict[str, Any] = {k: props[k] for k in ("eo:cloud_cover", "gsd") if k in props}
    return SceneHints(
        acquired_at=as_utc(when) if when else None,
        acquired_fallback=fallback,
        sensor=sensor,
        off_nadir_deg=props.get("view:off_nadir"),
        sun_elevation_deg=props.get("view:sun_elevation"),
        stac_item_id=item.id,
        extra=extra,
    )


def _item_inputs(item: pystac.Item, where: str, fallback: datetime | None) -> list[IngestInput]:
    out: list[IngestInput] = []
    for key, asset in item.assets.items():
        roles = set(asset.roles or [])
        media = (asset.media_type or "").lower()
        href = asset.get_absolute_href() or asset.href
        is_tiff = media.startswith(TIFF_MEDIA) or Path(href).suffix.lower() in RASTER_SUFFIXES
        if not is_tiff or roles & SKIPPED_ROLES:
            continue
        if "://" in href and not href.startswith("file://"):
            raise InputError(
                f"{where}: item '{item.id}' asset '{key}' is remote ({href}); download it and "
                "point the item at the local file"
            )
        path = Path(href.removeprefix("file://"))
        if not path.is_file():
            raise InputError(
                f"{where}: item '{item.id}' asset '{key}' is missing: {path} does not exist"
            )
        out.append(IngestInput(path, f"stac:{item.id}/{key}", _item_hints(item, fallback)))
    if not out:
        raise InputError(f"{where}: item '{item.id}' has no GeoTIFF asset to ingest")
    return out


def _stac_inputs(path: Path, doc: dict[str, Any], fallback: datetime | None) -> list[IngestInput]:
    where = str(path)
    try:
        if doc.get("type") == "Feature":
            items = [pystac.Item.from_file(str(path))]
        elif doc.get("type") == "FeatureCollection":
            items = list(pystac.ItemCollection.from_file(str(path)))
            for it in items:  # hrefs in an ItemCollection are relative to the file itself
                for a in it.assets.values():
                    if not Path(a.href).is_absolute() and "://" not in a.href:
                        a.href = str((path.parent / a.href).resolve())
        elif doc.get("type") in ("Catalog", "Collection"):
            items = list(pystac.Catalog.from_file(str(path)).get_items(recursive=True))
        else:
            raise InputError(
                f"{where}: STAC document of type {doc.get('type')!r} is not an Item, Catalog or ItemCollection"
            )
    except (STACError, KeyError, ValueError, TypeError, OSError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{where}: not a valid STAC document: {exc}") from exc
    inputs: list[IngestInput] = []
    for item in items:
        inputs.extend(_item_inputs(item, where, fallback))
    return inputs


def discover_inputs(
    paths: list[Path], acquired_fallback: datetime | None = None
) -> list[IngestInput]:
    """Expand files, folders and STAC JSON into rasters to ingest, without duplicates.

    In a folder, STAC documents are read first so that their assets keep the STAC metadata;
    a raster a STAC document already named is not listed again.

    Raises:
        InputError: a path does not exist, or a STAC document is invalid or names a missing asset.
    """
    stac_docs: list[tuple[Path, dict[str, Any]]] = []
    rasters: list[Path] = []
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            suffix = f.suffix.lower()
            if suffix == ".json" or (suffix == ".geojson" and not p.is_dir()):
                doc = _is_stac(f)
                if doc is not None:
                    stac_docs.append((f, doc))
                elif not p.is_dir():
                    rasters.append(f)  # will be refused as not a raster, with its name
            elif suffix in RASTER_SUFFIXES or not p.is_dir():
                rasters.append(f)
    out: list[IngestInput] = []
    seen: set[Path] = set()
    for f, doc in stac_docs:
        for item in _stac_inputs(f, doc, acquired_fallback):
            if item.path.resolve() not in seen:
                seen.add(item.path.resolve())
                out.append(item)
    for f in rasters:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            out.append(IngestInput(f, "file", SceneHints(acquired_fallback=acquired_fallback)))
    return out
