"""`sitewatch detect` on GeoTIFF scenes with a registered YOLO-layout model: coordinates in
pixels, scene CRS and WGS84; GeoJSON and GeoPackage read back with OGR; storage and idempotence;
the GSD range; bad output paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
from pyproj import CRS, Transformer

from tests.cli.test_ingest import SITE
from tests.conftest import MakeTiff, store_snapshot, watchlist_doc
from tests.detect.fakes import yolo_graph

ORIGIN = (366700.0, 4104400.0)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    # one car at tile pixel (40, 50), 12 x 6 px, angle 0.3 rad; one truck at (90, 90)
    cand = np.array(
        [(40, 50, 12, 6, 0.9, 0.0, 0.3), (90, 90, 30, 6, 0.0, 0.8, 0.0)], dtype=np.float32
    ).T
    onnx_path = yolo_graph(tmp_path / "obb.onnx", cand, 128)
    reg = tmp_path / "obb.yaml"
    reg.write_text(
        "model: obb.onnx\nlayout: yolo-obb\ninput_px: 128\ngsd_m: [0.3, 0.6]\n"
        "num_classes: 2\nclasses: {0: small_vehicle, 1: large_vehicle}\nmodel_id: test-obb\n"
    )
    assert onnx_path.exists()
    return reg


def _scene(make_tiff: MakeTiff, res: float = 0.5) -> Path:
    data = (np.random.default_rng(1).random((3, 128, 128)) * 200).astype("uint8")
    return make_tiff("scene.tif", size=(128, 128), res=res, data=data, origin=ORIGIN)


def test_detect_scene_writes_geojson_and_geopackage_in_the_right_places(
    cli: Callable[..., Any], make_tiff: MakeTiff, model: Path, tmp_path: Path
) -> None:
    scene = _scene(make_tiff)
    out = tmp_path / "out"
    r = cli("detect", str(scene), "--model", str(model), "--out", str(out), "--json")
    assert r.code == 0, r.err
    [item] = json.loads(r.out)
    assert item["counts"] == {"small_vehicle": 1, "large_vehicle": 1}
    assert item["model_id"] == "test-obb" and len(item["model_sha256"]) == 64
    assert item["params"]["tile_px"] == 128 and item["tiles_run"] == 1

    doc = json.loads(Path(item["geojson"]).read_text())
    assert doc["sitewatch"]["model_sha256"] == item["model_sha256"]
    car = next(f for f in doc["features"] if f["properties"]["object_class"] == "small_vehicle")
    assert car["properties"]["cx_px"] == 40 and car["properties"]["angle_deg"] == pytest.approx(
        np.degrees(0.3), abs=0.01
    )
    # centre of the car in the scene CRS and in WGS84, computed independently
    east, north = ORIGIN[0] + 40 * 0.5, ORIGIN[1] - 50 * 0.5
    lon, lat = Transformer.from_crs("EPSG:32615", "EPSG:4326", always_xy=True).transform(
        east, north
    )
    ring = np.array(car["geometry"]["coordinates"][0])
    assert ring[:4].mean(axis=0) == pytest.approx([lon, lat], abs=1e-7)
    assert len(ring) == 5 and (ring[0] == ring[-1]).all()

    info = pyogrio.read_info(item["gpkg"])
    assert CRS.from_user_input(info["crs"]).to_epsg() == 32615
    assert info["features"] == 2 and info["geometry_type"] == "Polygon"
    _, _, geoms, fields = pyogrio.raw.read(item["gpkg"])
    import shapely

    polys = shapely.from_wkb(geoms)
    classes = list(fields[list(info["fields"]).index("object_class")])
    car_poly = polys[classes.index("small_vehicle")]
    assert car_poly.centroid.x == pytest.approx(east) and car_poly.centroid.y == pytest.approx(
        north
    )
    assert car_poly.area == pytest.approx(12 * 6 * 0.25)


def test_detect_stores_ingested_scenes_once(
    cli: Callable[..., Any],
    make_tiff: MakeTiff,
    model: Path,
    write_watchlist: Callable[..., Path],
    home: Path,
) -> None:
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0
    scene = _scene(make_tiff)
    assert cli("ingest", str(scene)).code == 0
    first = json.loads(cli("detect", str(scene), "--model", str(model), "--json").out)[0]
    assert first["scene_id"] is not None
    snap = store_snapshot(home)
    assert len(snap["detection_sets"]) == 1 and len(snap["detections"]) == 2
    again = json.loads(cli("detect", first["scene_id"], "--model", str(model), "--json").out)[0]
    assert again["detection_set"] == first["detection_set"]
    assert store_snapshot(home)["detections"] == snap["detections"]


def test_scene_outside_the_gsd_range_is_refused_unless_forced(
    cli: Callable[..., Any], make_tiff: MakeTiff, model: Path, tmp_path: Path
) -> None:
    scene = _scene(make_tiff, res=10.0)
    r = cli("detect", str(scene), "--model", str(model), "--out", str(tmp_path / "o"))
    assert r.code == 2
    assert "ground sample distance 10.00 m is outside the model's range 0.3-0.6 m" in r.err
    assert len(r.err.strip().splitlines()) == 1
    r = cli("detect", str(scene), "--model", str(model), "--out", str(tmp_path / "o"), "--force")
    assert r.code == 0, r.err


def test_unwritable_output_is_one_clear_line(
    cli: Callable[..., Any], make_tiff: MakeTiff, model: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = cli("detect", str(_scene(make_tiff)), "--model", str(model), "--out", str(blocker / "sub"))
    assert r.code == 2
    assert "cannot write here" in r.err and len(r.err.strip().splitlines()) == 1


def test_bad_model_and_threshold_are_input_errors(
    cli: Callable[..., Any], make_tiff: MakeTiff, model: Path, tmp_path: Path
) -> None:
    scene = _scene(make_tiff)
    r = cli("detect", str(scene), "--model", str(tmp_path / "missing.onnx"))
    assert r.code == 2 and "no such file" in r.err
    r = cli("detect", str(scene), "--model", str(model), "--threshold", "tank=0.3")
    assert r.code == 2 and "not a sitewatch class" in r.err


def test_detect_site_runs_on_its_chips_in_the_site_crs(
    cli: Callable[..., Any],
    make_tiff: MakeTiff,
    model: Path,
    write_watchlist: Callable[..., Path],
    home: Path,
    tmp_path: Path,
) -> None:
    r = cli("detect", "depot", "--model", str(model))
    assert r.code == 2 and "'depot'" in r.err  # neither a file, a scene nor a site yet
    assert cli("sites", "import", str(write_watchlist(watchlist_doc([SITE])))).code == 0
    r = cli("detect", "depot", "--model", str(model))
    assert r.code == 2 and "has no chips yet; run `sitewatch chips depot`" in r.err
    data = (np.random.default_rng(2).random((3, 160, 200)) * 200).astype("uint8")
    assert cli("ingest", str(make_tiff("s.tif", data=data))).code == 0
    assert cli("chips", "depot").code == 0
    r = cli("detect", "depot", "--model", str(model), "--out", str(tmp_path / "o"), "--json")
    assert r.code == 0, r.err
    [item] = json.loads(r.out)
    assert item["site_id"] == "depot" and item["chip_key"]
    info = pyogrio.read_info(item["gpkg"])
    assert CRS.from_user_input(info["crs"]).to_epsg() == 32615  # the site grid's UTM zone
    assert store_snapshot(home)["detection_sets"][0][3] == "depot"


def test_per_class_thresholds_filter_each_class(
    cli: Callable[..., Any], make_tiff: MakeTiff, model: Path, tmp_path: Path
) -> None:
    scene = str(_scene(make_tiff))
    out = ["--model", str(model), "--out", str(tmp_path / "o"), "--json"]
    r = cli("detect", scene, *out, "--threshold", "large_vehicle=0.85")
    assert json.loads(r.out)[0]["counts"] == {"small_vehicle": 1}  # the truck scores 0.8
    r = cli("detect", scene, *out, "--threshold", "small_vehicle=0.95")
    assert json.loads(r.out)[0]["counts"] == {"large_vehicle": 1}
    assert json.loads(r.out)[0]["params"]["thresholds"]["small_vehicle"] == 0.95
