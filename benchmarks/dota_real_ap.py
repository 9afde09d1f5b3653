"""Detectors on real vehicles of a place and sensor no detector was trained on: the DOTA
development-kit examples (`../shared/data/dota_devkit_examples`: Google Earth, 0.26-0.27 m, DOTA
labelTxt with oriented boxes). P1888 is a school-bus depot, 50 buses (DOTA "large-vehicle")
parked side by side in rows, and 14 cars; P0706 is a harbour with ships and no vehicle
labelled, where every vehicle detection is a false alarm.

Boats: a detector that has learnt rows of long boxes can take the boats moored at a pier for a
truck park. Per image, the large-vehicle detections at the operating threshold whose centre lies
on a labelled ship are counted ("on_ships"). Besides P0706, the DOTA v1 chip P0861 of
`../shared/data/dota8` (YOLO-OBB; 105 ships of a second marina, a car park beside it whose cars
are not labelled) is read for this count alone, and left out of AP50. Its GSD is not given: its
cars measure about 21 px for a 4.5 m car, so it is read as 0.22 m (`MARINA_GSD_M`).

DOTA is academic use only: the images are read where they lie and never trained on or
committed. For information and for adoption rules that want a real-vehicle check on a new place
(the selection split's vehicles are unlabelled); the held-out split is not touched. Two images
are too few for a bootstrap interval, so the counts are given beside AP50: the objects, the
detections at the operating threshold, and the true ones among them (IoU >= 0.5), per class and
image, read at 0.3 m and 0.5 m as scenes of those GSDs would be (`train.evaluate.real_eval_set`).

    .venv/bin/python benchmarks/dota_real_ap.py MODEL [MODEL ...] > figures.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml

from sitewatch.core.models import Detection, ObjectClass
from sitewatch.detect.onnx import OnnxDetector, load_detector
from sitewatch.detect.run import DetectOptions
from sitewatch.detect.taxonomy import class_map
from sitewatch.train.evaluate import (
    EvalImage,
    at_threshold,
    detect_all,
    iou_matrix,
    real_eval_set,
    score_detections,
)
from sitewatch.train.labels import LabelledImage, load_dota, load_yolo

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = SHARED / "dota_devkit_examples"
MARINA = SHARED / "dota8" / "images" / "train" / "P0861__1024__0___1648.jpg"
MARINA_GSD_M = 0.22  # from the chip's cars, measured by hand (module docstring)
# The label loaders map class names into the taxonomy, which has no ships: ships are loaded
# under a stand-in class, and only their corners are used.
SHIPS = {"ship": ObjectClass.CONTAINER}
VEHICLES = (ObjectClass.SMALL_VEHICLE, ObjectClass.LARGE_VEHICLE)
OPTIONS = DetectOptions(overlap_px=64)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.3, 0.5])
    ap.add_argument("--marina", type=Path, default=MARINA, help="dota8 chip for the boat count")
    args = ap.parse_args()
    if not (args.data / "images").is_dir():
        raise SystemExit(f"no DOTA examples under {args.data}")
    frames = load_dota(args.data / "images", args.data / "labelTxt", class_map("dota"))
    out: dict[str, Any] = {
        "data": str(args.data),
        "images": {f.image_path.name: f.gsd_m for f in frames},
    }
    ships = {
        f.image_path.stem: ship_polygons(f)
        for f in load_dota(args.data / "images", args.data / "labelTxt", SHIPS)
    }
    sets = {g: real_eval_set(frames, g) for g in args.gsd}
    marina: dict[float, list[EvalImage]] = {}
    if args.marina.is_file():
        ships[args.marina.stem] = ship_polygons(marina_chip(args.marina))
        chip = LabelledImage(args.marina, (), MARINA_GSD_M, "dota8", frozenset())
        marina = {g: real_eval_set([chip], g) for g in args.gsd}
        out["images"][args.marina.name] = MARINA_GSD_M
    for path, detector, operating in detectors(args.models):
        figures: dict[str, Any] = {}
        for g, images in sets.items():
            found = detect_all(images, detector, OPTIONS)
            report = score_detections(images, found, operating)
            per_image: dict[str, Any] = {}
            for item, dets in zip(images, found, strict=True):
                row: dict[str, Any] = {}
                above = at_threshold(dets, operating)
                for c in ObjectClass:
                    kept = [d for d in above if d.object_class is c]
                    gts = [t for t in item.targets if t.object_class is c]
                    m = iou_matrix(kept, gts)
                    true = int((m.max(axis=1) >= 0.5).sum()) if gts and kept else 0
                    if gts or kept:
                        row[c.value] = {"objects": len(gts), "detected": len(kept), "true": true}
                lv = [d for d in above if d.object_class is ObjectClass.LARGE_VEHICLE]
                row["large_vehicle_on_ships"] = on_ships(lv, ships[item.name], item.gsd_m, g)
                per_image[item.name] = row
            chips = marina.get(g, [])
            for item, dets in zip(chips, detect_all(chips, detector, OPTIONS), strict=True):
                lv = [
                    d
                    for d in at_threshold(dets, operating)
                    if d.object_class is ObjectClass.LARGE_VEHICLE
                ]
                per_image[item.name] = {
                    "ships": len(ships[item.name]),
                    "large_vehicle_detected": len(lv),
                    "large_vehicle_on_ships": on_ships(lv, ships[item.name], MARINA_GSD_M, g),
                }
            figures[f"{g:g} m"] = {
                "AP50": {c.value: round(report[c.value]["AP50"], 4) for c in VEHICLES},
                "precision": {c.value: round(report[c.value]["precision"], 4) for c in VEHICLES},
                "recall": {c.value: round(report[c.value]["recall"], 4) for c in VEHICLES},
                "per_image_at_threshold": per_image,
            }
        out[path.name] = figures
    print(json.dumps(out, indent=1))


def detectors(
    paths: list[Path],
) -> Iterator[tuple[Path, OnnxDetector, dict[ObjectClass, float]]]:
    """Each model loaded for scoring (every detection down to 0.05, for AP) with its operating
    thresholds."""
    for path in paths:
        detector = load_detector(path, score_floor=0.05)
        yield path, detector, {c: detector.spec.threshold(c) for c in ObjectClass}


def ship_polygons(frame: LabelledImage) -> list[shapely.Polygon]:
    """The ship polygons (pixels) of a frame loaded with the `SHIPS` mapping."""
    return [shapely.Polygon(box.corners) for box in frame.boxes]


def marina_chip(image: Path) -> LabelledImage:
    """A dota8 chip with its ships (`SHIPS`), read by the YOLO-OBB loader with dota8's names."""
    root = image.parents[2]
    names = yaml.safe_load((root / "dota8.yaml").read_text())["names"]
    frames = load_yolo(
        image.parent,
        root / "labels" / image.parent.name,
        [names[i] for i in sorted(names)],
        SHIPS,
        obb=True,
    )
    return next(f for f in frames if f.image_path == image)


def on_ships(
    detections: list[Detection], ships: list[shapely.Polygon], gsd_in_m: float, gsd_m: float
) -> int:
    """How many detections (pixels of the image read at `gsd_m`) have their centre on a ship
    (pixels of the image at `gsd_in_m`)."""
    if not ships or not detections:
        return 0
    scale = gsd_m / gsd_in_m
    points = shapely.points([(d.box.cx * scale, d.box.cy * scale) for d in detections])
    hulls = shapely.STRtree(ships)
    return len(np.unique(hulls.query(points, predicate="within")[0]))


if __name__ == "__main__":
    main()
