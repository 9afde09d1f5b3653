"""Vector exports of detections: GeoJSON (RFC 7946: WGS84 longitude/latitude, counter-clockwise
exterior rings) and GeoPackage in the source CRS, written through OGR (pyogrio).

Files are written to a temporary name and moved into place, so a failed write leaves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.polygon import orient

from sitewatch.errors import InputError

Feature = tuple[shapely.Polygon, Mapping[str, Any]]


def _check_writable(path: Path) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror})") from exc
    if not parent.is_dir() or (path.exists() and path.is_dir()):
        raise InputError(f"{path}: cannot write here (not a file path)")


def write_geojson(path: Path, features: Sequence[Feature], meta: Mapping[str, Any]) -> Path:
    """An RFC 7946 FeatureCollection of WGS84 polygons; `meta` goes in a top-level member."""
    _check_writable(path)
    doc = {
        "type": "FeatureCollection",
        "sitewatch": dict(meta),
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(orient(geom, 1.0)),
                "properties": dict(props),
            }
            for geom, props in features
        ],
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, default=str))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror})") from exc
    return path


def write_geopackage(
    path: Path, features: Sequence[Feature], crs_wkt: str, layer: str = "detections"
) -> Path:
    """A GeoPackage layer of polygons in `crs_wkt`."""
    import pyogrio.raw

    _check_writable(path)
    names = list(features[0][1]) if features else ["object_class", "score"]
    fields = []
    for name in names:
        values = [props.get(name) for _, props in features]
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            fields.append(np.array(values, dtype=np.float64))
        else:
            fields.append(np.array(["" if v is None else str(v) for v in values], dtype=object))
    geometry = np.array([shapely.to_wkb(g) for g, _ in features], dtype=object)
    tmp = path.with_name(path.name + ".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    try:
        pyogrio.raw.write(
            str(tmp),
            geometry,
            fields,
            names,
            layer=layer,
            driver="GPKG",
            geometry_type="Polygon",
            crs=crs_wkt,
        )
        tmp.replace(path)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.FieldError) as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write GeoPackage ({exc})") from exc
    return path
