"""Detectors on real vehicles of a place and sensor no detector was trained on: the DOTA
development-kit examples (`../shared/data/dota_devkit_examples`: Google Earth, 0.26-0.27 m, DOTA
labelTxt with oriented boxes). P1888 is a school-bus depot, 50 buses (DOTA "large-vehicle")
parked side by side in rows, and 14 cars; P0706 is a harbour with ships and no vehicle
labelled, where every vehicle detection is a false alarm.

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
from pathlib import Path
from typing import Any

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions
from sitewatch.detect.taxonomy import class_map
from sitewatch.train.evaluate import (
    at_threshold,
    detect_all,
    iou_matrix,
    real_eval_set,
    score_detections,
)
from sitewatch.train.labels import load_dota

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dota_devkit_examples"
VEHICLES = (ObjectClass.SMALL_VEHICLE, ObjectClass.LARGE_VEHICLE)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.3, 0.5])
    args = ap.parse_args()
    if not (args.data / "images").is_dir():
        raise SystemExit(f"no DOTA examples under {args.data}")
    frames = load_dota(args.data / "images", args.data / "labelTxt", class_map("dota"))
    out: dict[str, Any] = {
        "data": str(args.data),
        "images": {f.image_path.name: f.gsd_m for f in frames},
    }
    sets = {g: real_eval_set(frames, g) for g in args.gsd}
    for path in args.models:
        detector = load_detector(path, score_floor=0.05)
        operating = {c: detector.spec.threshold(c) for c in ObjectClass}
        figures: dict[str, Any] = {}
        for g, images in sets.items():
            found = detect_all(images, detector, DetectOptions(overlap_px=64))
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
                per_image[item.name] = row
            figures[f"{g:g} m"] = {
                "AP50": {c.value: round(report[c.value]["AP50"], 4) for c in VEHICLES},
                "precision": {c.value: round(report[c.value]["precision"], 4) for c in VEHICLES},
                "recall": {c.value: round(report[c.value]["recall"], 4) for c in VEHICLES},
                "per_image_at_threshold": per_image,
            }
        out[path.name] = figures
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
