"""Watchlist documents <-> core Sites, with validation that names the site, zone and place.

Two forms carry the same content:

* GeoJSON FeatureCollection: each feature has ``properties.role`` = ``site`` or ``zone``,
  ``properties.id``; zones name their ``site``. Extra properties are kept as attributes.
* YAML (or JSON) mapping: ``sites: [{id, name, gsd_m, tags, notes, geometry, zones: [...]}]``.

Coordinates are lon/lat WGS84 unless the document names a CRS (top-level ``crs``, as an
'EPSG:n' string or the legacy GeoJSON ``{"type": "name", "properties": {"name": ...}}``).
Everything is stored in WGS84.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from shapely import get_coordinates
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from sitewatch.core.models import ObjectClass, Site, Zone, ZoneKind
from sitewatch.errors import GeometryError, InputError, WatchlistError
from sitewatch.geo.crs import WGS84, area_m2, parse_crs, reproject_geometry, utm_crs_for
from sitewatch.types import check_slug

DEFAULT_MAX_SITE_AREA_KM2 = 100.0
DEFAULT_GSD_M = 0.5
# A zone may poke out of its site by this share of its area (digitising slack) before it is refused.
ZONE_OUTSIDE_TOLERANCE = 0.001

_SITE_KEYS = {"role", "id", "name", "gsd_m", "tags", "notes", "geometry", "zones"}
_ZONE_KEYS = {"role", "id", "site", "kind", "name", "classes", "geometry"}


def _document_crs(doc: Mapping[str, Any]) -> str:
    raw = doc.get("crs")
    if raw is None:
        return WGS84
    if isinstance(raw, Mapping):
        raw = raw.get("properties", {}).get("name")
    if not isinstance(raw, str):
        raise WatchlistError("document 'crs' must be a string such as 'EPSG:32652'")
    crs = parse_crs(raw)
    epsg = crs.to_epsg()
    if crs.is_geographic and epsg in (4326, None) and "CRS84" in raw.upper():
        return WGS84
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _check_lonlat(coords: Any, where: str) -> None:
    for x, y in coords:
        if -180.0 <= x <= 180.0 and -90.0 <= y <= 90.0:
            continue
        if -90.0 <= x <= 90.0 and -180.0 <= y <= 180.0:
            raise GeometryError(
                f"{where}: coordinate ({x}, {y}) is out of range; it looks like (lat, lon): "
                "GeoJSON wants (lon, lat)"
            )
        raise GeometryError(
            f"{where}: coordinate ({x}, {y}) is out of range for lon/lat "
            "(lon -180..180, lat -90..90); name the document's CRS if it is projected"
        )


def _geometry(raw: Any, where: str, crs: str) -> BaseGeometry:
    if not raw:
        raise GeometryError(f"{where}: empty geometry; give a Polygon or MultiPolygon")
    if not isinstance(raw, Mapping) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, Mapping) else type(raw).__name__
        raise GeometryError(f"{where}: geometry type {kind!r} is not a Polygon or MultiPolygon")
    try:
        geom = shape(raw)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise GeometryError(f"{where}: malformed coordinates: {exc}") from exc
    if geom.is_empty:
        raise GeometryError(f"{where}: empty geometry; give a Polygon or MultiPolygon")
    if parse_crs(crs).is_geographic:
        _check_lonlat(get_coordinates(geom), where)
    if not geom.is_valid:
        reason = explain_validity(geom)
        m = re.search(r"\[([-\d.eE+]+) ([-\d.eE+]+)\]", reason)
        where_at = f" near ({float(m.group(1)):.4f}, {float(m.group(2)):.4f})" if m else ""
        if "Self-intersection" in reason:
            raise GeometryError(f"{where}: ring self-intersects{where_at}; fix the ring order")
        text = re.sub(r"\[.*\]", "", reason)
        raise GeometryError(f"{where}: invalid geometry ({text}){where_at}")
    if crs != WGS84:
        geom = reproject_geometry(geom, crs, WGS84, max_segment=_densify_step(crs))
    return geom


def _densify_step(crs: str) -> float:
    return 0.0005 if parse_crs(crs).is_geographic else 50.0


def _as_list(value: Any, where: str, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise WatchlistError(f"{where}: '{field}' must be a list")
    return value


def _zone(raw: Mapping[str, Any], site_id: str, crs: str) -> Zone:
    zid = raw.get("id")
    if not isinstance(zid, str):
        raise WatchlistError(f"a zone of site '{site_id}' has no string 'id'")
    where = f"zone '{zid}' of site '{site_id}'"
    check_slug(zid, where)
    kind_raw = raw.get("kind")
    try:
        kind = ZoneKind(str(kind_raw))
    except ValueError:
        allowed = ", ".join(k.value for k in ZoneKind)
        raise WatchlistError(
            f"{where}: unknown zone kind {kind_raw!r}; use one of {allowed}"
        ) from None
    classes: list[ObjectClass] = []
    for c in _as_list(raw.get("classes"), where, "classes"):
        try:
            classes.append(ObjectClass(c))
        except ValueError:
            allowed = ", ".join(k.value for k in ObjectClass)
            raise WatchlistError(f"{where}: unknown class {c!r}; use one of {allowed}") from None
    geom = _geometry(raw.get("geometry"), where, crs)
    attrs = {k: v for k, v in raw.items() if k not in _ZONE_KEYS}
    return Zone(
        id=zid,
        site_id=site_id,
        kind=kind,
        geometry=geom,
        classes=tuple(classes),
        name=str(raw.get("name") or ""),
        attributes=attrs,
    )


def _site(
    raw: Mapping[str, Any], zones_raw: Sequence[Mapping[str, Any]], crs: str, max_km2: float
) -> Site:
    sid = raw.get("id")
    if not isinstance(sid, str):
        raise WatchlistError("a site has no string 'id'")
    where = f"site '{sid}'"
    check_slug(sid, "site")
    gsd = raw.get("gsd_m", DEFAULT_GSD_M)
    if not isinstance(gsd, int | float) or isinstance(gsd, bool) or not 0.05 <= gsd <= 100:
        raise WatchlistError(f"{where}: gsd_m {gsd!r} must be a number of metres in 0.05..100")
    geom = _geometry(raw.get("geometry"), where, crs)
    c = geom.centroid
    utm = utm_crs_for(c.x, c.y)
    km2 = area_m2(geom, utm) / 1e6
    if km2 > max_km2:
        raise GeometryError(
            f"{where}: area {km2:.1f} km² is over the maximum of {max_km2:g} km²; split the site "
            "or raise SITEWATCH_MAX_SITE_AREA_KM2"
        )
    zones: list[Zone] = []
    seen: set[str] = set()
    site_utm = reproject_geometry(geom, WGS84, utm)
    for zr in zones_raw:
        zone = _zone(zr, sid, crs)
        if zone.id in seen:
            raise WatchlistError(f"{where}: duplicate zone id '{zone.id}'")
        seen.add(zone.id)
        zutm = reproject_geometry(zone.geometry, WGS84, utm)
        outside = zutm.difference(site_utm).area / zutm.area if zutm.area > 0 else 0.0
        if outside > ZONE_OUTSIDE_TOLERANCE:
            raise GeometryError(
                f"zone '{zone.id}' of site '{sid}' is not inside its site: "
                f"{outside:.1%} of its area lies outside; move or clip the zone"
            )
        zones.append(zone)
    attrs = {k: v for k, v in raw.items() if k not in _SITE_KEYS}
    return Site(
        id=sid,
        name=str(raw.get("name") or sid),
        geometry=geom,
        gsd_m=float(gsd),
        tags=tuple(str(t) for t in _as_list(raw.get("tags"), where, "tags")),
        notes=str(raw.get("notes") or ""),
        zones=tuple(zones),
        attributes=attrs,
    )


def _feature_records(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    features = doc.get("features")
    if not isinstance(features, list):
        raise WatchlistError("FeatureCollection has no 'features' list")
    for i, feat in enumerate(features):
        if not isinstance(feat, Mapping):
            raise WatchlistError(f"feature #{i} is not an object")
        props = dict(feat.get("properties") or {})
        if "id" not in props and "id" in feat:
            props["id"] = feat["id"]
        role = props.get("role")
        if role not in ("site", "zone"):
            raise WatchlistError(
                f"feature #{i} (id {props.get('id')!r}): properties.role must be 'site' or 'zone', "
                f"got {role!r}"
            )
        props["geometry"] = feat.get("geometry")
        yield str(role), props


def sites_from_document(
    doc: Mapping[str, Any], max_site_area_km2: float = DEFAULT_MAX_SITE_AREA_KM2
) -> list[Site]:
    """Validate a parsed watchlist document and return its sites (WGS84), in document order.

    Raises:
        WatchlistError, GeometryError: with the site, zone and problem named.
    """
    if not isinstance(doc, Mapping):
        raise WatchlistError(
            "a watchlist must be a GeoJSON FeatureCollection or a mapping with 'sites'"
        )
    crs = _document_crs(doc)
    site_raws: list[dict[str, Any]] = []
    zones_by_site: dict[str, list[dict[str, Any]]] = {}
    if doc.get("type") == "FeatureCollection":
        for role, props in _feature_records(doc):
            if role == "site":
                site_raws.append(props)
            else:
                site_ref = props.get("site")
                if not isinstance(site_ref, str):
                    raise WatchlistError(f"zone {props.get('id')!r} does not name its 'site'")
                zones_by_site.setdefault(site_ref, []).append(props)
    elif isinstance(doc.get("sites"), list):
        for raw in doc["sites"]:
            if not isinstance(raw, Mapping):
                raise WatchlistError("every entry of 'sites' must be a mapping")
            site_raws.append(dict(raw))
            zones = _as_list(raw.get("zones"), f"site {raw.get('id')!r}", "zones")
            zones_by_site.setdefault(str(raw.get("id")), []).extend(dict(z) for z in zones)
    else:
        raise WatchlistError(
            "a watchlist must be a GeoJSON FeatureCollection or a mapping with 'sites'"
        )
    if not site_raws:
        raise WatchlistError("the watchlist has no sites")
    ids = [r.get("id") for r in site_raws]
    dupes = sorted({str(i) for i in ids if ids.count(i) > 1})
    if dupes:
        raise WatchlistError(f"duplicate site id '{dupes[0]}'")
    unknown = sorted(set(zones_by_site) - {str(i) for i in ids})
    if unknown:
        zid = zones_by_site[unknown[0]][0].get("id")
        raise WatchlistError(f"zone {zid!r} names unknown site '{unknown[0]}'")
    return [
        _site(r, zones_by_site.get(str(r["id"]), []), crs, max_site_area_km2) for r in site_raws
    ]


def sites_to_document(sites: Sequence[Site], form: str = "geojson") -> dict[str, Any]:
    """Return the sites as a GeoJSON FeatureCollection (form "geojson") or nested YAML form."""
    if form == "geojson":
        features: list[dict[str, Any]] = []
        for s in sites:
            props: dict[str, Any] = {
                "role": "site",
                "id": s.id,
                "name": s.name,
                "gsd_m": s.gsd_m,
                "tags": list(s.tags),
                "notes": s.notes,
                **dict(s.attributes),
            }
            features.append(
                {"type": "Feature", "geometry": mapping(s.geometry), "properties": props}
            )
            for z in s.zones:
                zprops: dict[str, Any] = {
                    "role": "zone",
                    "id": z.id,
                    "site": s.id,
                    "kind": z.kind.value,
                    "name": z.name,
                    "classes": [c.value for c in z.classes],
                    **dict(z.attributes),
                }
                features.append(
                    {"type": "Feature", "geometry": mapping(z.geometry), "properties": zprops}
                )
        doc: dict[str, Any] = _plain({"type": "FeatureCollection", "features": features})
        return doc
    if form == "yaml":
        out = []
        for s in sites:
            zones = [
                {
                    "id": z.id,
                    "kind": z.kind.value,
                    "name": z.name,
                    "classes": [c.value for c in z.classes],
                    **dict(z.attributes),
                    "geometry": mapping(z.geometry),
                }
                for z in s.zones
            ]
            out.append(
                {
                    "id": s.id,
                    "name": s.name,
                    "gsd_m": s.gsd_m,
                    "tags": list(s.tags),
                    "notes": s.notes,
                    **dict(s.attributes),
                    "geometry": mapping(s.geometry),
                    "zones": zones,
                }
            )
        nested: dict[str, Any] = _plain({"sites": out})
        return nested
    raise InputError(f"unknown watchlist form {form!r}; use 'geojson' or 'yaml'")


def _plain(value: Any) -> Any:
    """Turn tuples (as shapely's mapping() gives) into lists so YAML and JSON agree."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
