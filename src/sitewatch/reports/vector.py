"""Vector exports of detections: GeoJSON (RFC 7946: WGS84 longitude/latitude, counter-clockwise
exterior rings) and GeoPackage in the source CRS, written through OGR (pyogrio).

Features come as an array of polygons plus columns (one numpy array per property), so a scene
with hundreds of thousands of detections never holds a dict per feature: GeoJSON is streamed
feature by feature, GeoPackage is written from the columns. Files are written to a temporary name
and moved into place, so a failed write leaves nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio.errors
import pyogrio.raw
import shapely

from sitewatch.errors import InputError

Columns = Mapping[str, npt.NDArray[Any]]
GEOJSON_CHUNK = 4096  # features formatted per write: bounded memory, few calls


def _check_writable(path: Path) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror})") from exc
    if not parent.is_dir() or (path.exists() and path.is_dir()):
        raise InputError(f"{path}: cannot write here (not a file path)")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _plain_list(values: npt.NDArray[Any]) -> list[Any]:
    """Python values of a column slice (numpy scalars become Python numbers)."""
    array = np.asarray(values)
    plain: list[Any] = array.tolist()
    return [_plain(v) for v in plain] if array.dtype == object else plain


def write_geojson(
    path: Path, polygons: npt.NDArray[Any], columns: Columns, meta: Mapping[str, Any]
) -> Path:
    """An RFC 7946 FeatureCollection of WGS84 polygons; `meta` goes in a top-level member."""
    _check_writable(path)
    oriented = shapely.orient_polygons(polygons, exterior_cw=False)
    geometries = shapely.to_geojson(oriented) if len(polygons) else []
    names = list(columns)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w") as f:
            f.write('{"type": "FeatureCollection", "sitewatch": ')
            f.write(json.dumps(dict(meta), default=str))
            f.write(', "features": [\n')
            for start in range(0, len(geometries), GEOJSON_CHUNK):
                stop = start + GEOJSON_CHUNK
                values = [_plain_list(columns[n][start:stop]) for n in names]
                f.write(
                    ",\n".join(
                        f'{{"type": "Feature", "geometry": {geometry}, "properties": '
                        f"{json.dumps(dict(zip(names, row, strict=True)))}}}"
                        for geometry, *row in zip(geometries[start:stop], *values, strict=True)
                    )
                )
                if stop < len(geometries):
                    f.write(",\n")
            f.write("\n]}\n")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror})") from exc
    return path


def write_geopackage(
    path: Path,
    polygons: npt.NDArray[Any],
    columns: Columns,
    crs_wkt: str,
    layer: str = "detections",
) -> Path:
    """A GeoPackage layer of polygons in `crs_wkt`."""
    _check_writable(path)
    names = list(columns)
    fields = [
        np.asarray(columns[n], dtype=np.float64)
        if np.issubdtype(np.asarray(columns[n]).dtype, np.number)
        else np.asarray(columns[n], dtype=object)
        for n in names
    ]
    return _ogr_write(path, polygons, fields, names, layer, "GPKG", crs_wkt)


def _ogr_write(
    path: Path,
    polygons: npt.NDArray[Any],
    fields: list[npt.NDArray[Any]],
    names: list[str],
    layer: str,
    driver: str,
    crs: str,
) -> Path:
    """One polygon layer through OGR, to a temporary name moved into place."""
    geometry = shapely.to_wkb(polygons) if len(polygons) else np.array([], dtype=object)
    tmp = path.with_name(f"{path.name}.tmp{path.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        pyogrio.raw.write(
            str(tmp),
            geometry,
            fields,
            names,
            layer=layer,
            driver=driver,
            geometry_type="Polygon",
            crs=crs,
        )
        tmp.replace(path)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write {driver} ({exc})") from exc
    return path


def write_kml(path: Path, polygons: npt.NDArray[Any], columns: Columns, layer: str) -> Path:
    """A KML layer (Google Earth) of WGS84 polygons; `name` and `description` columns, if given,
    become each placemark's name and description (the GDAL driver maps them)."""
    _check_writable(path)
    names = list(columns)
    fields = [np.asarray([str(_plain(v)) for v in columns[n]], dtype=object) for n in names]
    return _ogr_write(path, polygons, fields, names, layer, "KML", "EPSG:4326")


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    """A CSV file (RFC 4180), written atomically."""
    _check_writable(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror})") from exc
    return path
