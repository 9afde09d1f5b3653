"""A generated facility with a known activity campaign, and a tiny real ONNX detector for it.

The facility: a 100 x 100 m site (0.5 m grid, EPSG:32615) with an assembly hall zone, a rail
yard and a parking lot. Each date is a GeoTIFF of the same textured ground with objects painted
as 5 x 5 px blobs whose colour is their class (red: small vehicle, green: large vehicle, blue:
rail car) and whose centre pixel is brightest. Cloudy dates cover a zone with a bright, flat,
grey cloud.

`blob_model` writes an ONNX graph in the Ultralytics YOLO detect layout that finds those blobs
from the pixels (per-class colour excess, 5 x 5 local maxima), with a registration YAML: the
real adapter, tiling and merging run on it, and the ground truth of every date is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer

CRS = "EPSG:32615"
GSD = 0.5
ORIGIN = (366600.0, 4104500.0)  # top-left of every scene
SCENE_PX = 240
SITE_PX = (20, 220)  # the site polygon spans these scene pixels in both directions
ZONES = {  # zone id: (kind, row0, col0, row1, col1) in scene pixels, classes
    "assembly": ("assembly", 30, 30, 110, 110, ["small_vehicle", "large_vehicle"]),
    "rail-yard": ("rail_yard", 130, 30, 210, 210, ["rail_car"]),
    "parking": ("parking", 30, 130, 110, 210, ["small_vehicle"]),
}
COLOUR = {"small_vehicle": 0, "large_vehicle": 1, "rail_car": 2}


def _lonlat_box(r0: int, c0: int, r1: int, c1: int) -> dict[str, Any]:
    tr = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    x0, x1 = ORIGIN[0] + c0 * GSD, ORIGIN[0] + c1 * GSD
    y0, y1 = ORIGIN[1] - r0 * GSD, ORIGIN[1] - r1 * GSD
    ring = [tr.transform(x, y) for x, y in ((x0, y1), (x1, y1), (x1, y0), (x0, y0), (x0, y1))]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def watchlist(site_id: str = "factory") -> dict[str, Any]:
    """The facility as a watchlist GeoJSON document."""
    feats = [
        {
            "type": "Feature",
            "geometry": _lonlat_box(SITE_PX[0], SITE_PX[0], SITE_PX[1], SITE_PX[1]),
            "properties": {
                "role": "site",
                "id": site_id,
                "name": "Generated factory",
                "gsd_m": GSD,
            },
        }
    ]
    for zid, (kind, r0, c0, r1, c1, classes) in ZONES.items():
        feats.append(
            {
                "type": "Feature",
                "geometry": _lonlat_box(r0, c0, r1, c1),
                "properties": {
                    "role": "zone",
                    "site": site_id,
                    "id": zid,
                    "kind": kind,
                    "name": zid.replace("-", " ").title(),
                    "classes": classes,
                },
            }
        )
    return {"type": "FeatureCollection", "features": feats}


@dataclass
class DatePlan:
    """What one date shows: objects per zone and class, and cloudy zones."""

    day: date
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    cloudy: tuple[str, ...] = ()


def campaign(start: date = date(2018, 6, 1), n: int = 16, event_at: int = 12) -> list[DatePlan]:
    """Quiet dates (0-2 large vehicles, 3-6 cars, no rail cars), then a ramp at the assembly hall
    and rail cars arriving in the yard; one cloudy date over the hall during the campaign."""
    rng = np.random.default_rng(7)
    plans = []
    day = start
    for i in range(n):
        day = day + timedelta(days=int(rng.integers(5, 20)))
        counts = {
            ("assembly", "large_vehicle"): int(rng.integers(0, 3)),
            ("assembly", "small_vehicle"): int(rng.integers(2, 5)),
            ("parking", "small_vehicle"): int(rng.integers(3, 7)),
            ("rail-yard", "rail_car"): 0,
        }
        cloudy: tuple[str, ...] = ()
        if i >= event_at:
            counts[("assembly", "large_vehicle")] = 9 + (i - event_at)
            counts[("rail-yard", "rail_car")] = 6
        if i == event_at - 1:
            cloudy = ("assembly",)
        plans.append(DatePlan(day, counts, cloudy))
    return plans


def _slots(zone: str, n_total: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    _, r0, c0, r1, c1, _ = ZONES[zone]
    cells = [(r, c) for r in range(r0 + 6, r1 - 6, 10) for c in range(c0 + 6, c1 - 6, 10)]
    idx = rng.permutation(len(cells))[:n_total]
    return [cells[i] for i in sorted(idx)]


def render(plan: DatePlan, seed: int = 0) -> np.ndarray[Any, Any]:
    """The (3, rows, cols) uint8 image of one date."""
    ground = np.random.default_rng(seed).integers(70, 110, (1, SCENE_PX, SCENE_PX))
    noise = np.random.default_rng(plan.day.toordinal()).integers(-4, 5, (3, SCENE_PX, SCENE_PX))
    img = np.clip(np.repeat(ground, 3, axis=0) + noise, 0, 255).astype(np.uint8)
    rng = np.random.default_rng(plan.day.toordinal() + 1)
    for zone in ZONES:
        wanted = [(cls, n) for (z, cls), n in sorted(plan.counts.items()) if z == zone]
        slots = _slots(zone, sum(n for _, n in wanted), rng)
        k = 0
        for cls, n in wanted:
            for _ in range(n):
                r, c = slots[k]
                k += 1
                img[:, r - 2 : r + 3, c - 2 : c + 3] = 30
                img[COLOUR[cls], r - 2 : r + 3, c - 2 : c + 3] = 200
                img[COLOUR[cls], r, c] = 250
    for zone in plan.cloudy:
        _, r0, c0, r1, c1, _ = ZONES[zone]
        img[:, r0 - 5 : r1 + 5, c0 - 5 : c1 + 5] = 235
    return img


def write_scenes(folder: Path, plans: list[DatePlan]) -> list[Path]:
    """One GeoTIFF per date, with its acquisition time in the TIFF datetime tag."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for plan in plans:
        p = folder / f"scene-{plan.day.isoformat()}.tif"
        data = render(plan)
        with rasterio.open(
            p,
            "w",
            driver="GTiff",
            width=SCENE_PX,
            height=SCENE_PX,
            count=3,
            dtype="uint8",
            crs=CRS,
            transform=Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1]),
        ) as ds:
            ds.write(data)
            ds.update_tags(TIFFTAG_DATETIME=plan.day.strftime("%Y:%m:%d 10:30:00"))
        paths.append(p)
    return paths


def blob_model(folder: Path, input_px: int = 64, work_gsd_m: float | None = None) -> Path:
    """The blob detector (YOLO detect layout, 3 classes) and its registration YAML.

    `work_gsd_m` declares a working GSD (chips coarser than it are read interpolated up to it).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    a = input_px * input_px
    ys, xs = np.mgrid[0:input_px, 0:input_px]
    coords = np.stack(
        [xs.ravel() + 0.5, ys.ravel() + 0.5, np.full(a, 5.0), np.full(a, 5.0)]
    ).astype(np.float32)[None]
    inits = [
        numpy_helper.from_array(coords, "coords"),
        numpy_helper.from_array(np.array([1, 3, a], dtype=np.int64), "shape"),
        numpy_helper.from_array(np.array([0, 1, 2, 3], dtype=np.int64), "splits"),
    ]
    nodes = [helper.make_node("Split", ["image"], ["r", "g", "b"], axis=1, num_outputs=3)]
    for me, o1, o2 in (("r", "g", "b"), ("g", "r", "b"), ("b", "r", "g")):
        nodes += [
            helper.make_node("Max", [o1, o2], [f"{me}_other"]),
            helper.make_node("Sub", [me, f"{me}_other"], [f"{me}_ex"]),
            helper.make_node("Relu", [f"{me}_ex"], [f"{me}_s"]),
        ]
    nodes += [
        helper.make_node("Concat", ["r_s", "g_s", "b_s"], ["s"], axis=1),
        helper.make_node("MaxPool", ["s"], ["m"], kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        helper.make_node("Equal", ["s", "m"], ["eq"]),
        helper.make_node("Cast", ["eq"], ["peak"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["s", "peak"], ["score"]),
        helper.make_node("Reshape", ["score", "shape"], ["flat"]),
        helper.make_node("Concat", ["coords", "flat"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "blobs",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, input_px, input_px])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 7, a])],
        initializer=inits[:2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "blobs.onnx"))
    reg = folder / "blobs.yaml"
    reg.write_text(
        "model: blobs.onnx\nlayout: yolo-detect\n"
        f"input_px: {input_px}\ngsd_m: [0.3, 0.6]\nnum_classes: 3\n"
        "classes: {0: small_vehicle, 1: large_vehicle, 2: rail_car}\n"
        "thresholds: {small_vehicle: 0.3, large_vehicle: 0.3, rail_car: 0.3}\n"
        "model_id: test-blobs\n" + (f"work_gsd_m: {work_gsd_m}\n" if work_gsd_m is not None else "")
    )
    return reg


def prepare(cli: Any, folder: Path, plans: list[DatePlan], site_id: str = "factory") -> Path:
    """Import the facility, ingest its dated scenes; return the blob model registration."""
    import json

    wl = folder / f"{site_id}.geojson"
    wl.write_text(json.dumps(watchlist(site_id)))
    assert cli("sites", "import", str(wl)).code == 0
    write_scenes(folder / "scenes", plans)
    r = cli("ingest", str(folder / "scenes"))
    assert r.code == 0, r.err
    return blob_model(folder / "model")
