"""Large vehicles at two real bus depots no detector was trained on or tuned to, scored against
hand-made point labels (`benchmarks/labels/depots.json`, module docstring there).

The two scenes are the unlabelled DOTA samples of mmrotate (`../shared/data/mmrotate_samples/
demo`: Google Earth, about 0.125 m, measured by hand): `demo.jpg`, a depot of 63 full-size school
buses parked in herringbone rows beside 33 short buses, and `dota_demo.jpg`, 68 full-size buses
and trucks in rows and a few more cars. The depot of `dota_real_ap.py` (DOTA P1888) was looked at
while the row generator was made (`vehicle_rows`); these two were labelled for this benchmark and
had not been looked at before, so they are the fresh check of whether parked rows of buses are
found as large vehicles at a new place.

Labels are points, not boxes, so a detection is matched by its centre: a large-vehicle detection
is true when its centre lies within `MATCH_M` (3 m, a quarter of a bus) of a full-size object's
point not yet taken (score order). Detections whose centre lies within `MATCH_M` of a short bus
or an ignored object are neither true nor false. Per image and GSD (read at 0.3 m and 0.5 m as
scenes of those GSDs would be, `train.evaluate.real_eval_set`): point AP of the large-vehicle
class (the project's 101-point interpolated AP, `train.evaluate.Matches`), and at the operating
threshold the detections, the true ones, the false ones and recall; for the short buses, how
many have a small-vehicle or a large-vehicle detection at the threshold within `MATCH_M`; and
the count of each class's detections at the threshold.

DOTA is academic use only: the images are read where they lie and never trained on or
committed. For information and for adoption rules; the held-out split is not touched.

    .venv/bin/python benchmarks/depot_counts.py MODEL [MODEL ...] > figures.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dota_real_ap import OPTIONS, detectors
from sitewatch.core.models import Detection, ObjectClass
from sitewatch.train.evaluate import Matches, at_threshold, detect_all, real_eval_set
from sitewatch.train.labels import LabelledImage

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LABELS = ROOT / "benchmarks" / "labels" / "depots.json"
MATCH_M = 3.0
LV, SV = ObjectClass.LARGE_VEHICLE, ObjectClass.SMALL_VEHICLE


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.3, 0.5])
    args = ap.parse_args()
    spec = json.loads(args.labels.read_text())["images"]
    missing = [v["path"] for v in spec.values() if not (args.data / v["path"]).is_file()]
    if missing:
        raise SystemExit(f"depot images not found under {args.data}: {missing}")
    frames = [
        LabelledImage(args.data / v["path"], (), v["gsd_m"], "dota-unlabelled", frozenset())
        for v in spec.values()
    ]
    points = {Path(v["path"]).stem: (v["gsd_m"], v["points"]) for v in spec.values()}
    sets = {g: real_eval_set(frames, g) for g in args.gsd}
    out: dict[str, Any] = {
        "labels": str(args.labels.relative_to(ROOT)) if args.labels.is_relative_to(ROOT) else "",
        "match_m": MATCH_M,
        "objects": {
            name: {k: sum(p[2] == k for p in pts) for k in ("large", "short", "ignore")}
            for name, (_, pts) in points.items()
        },
    }
    for path, detector, operating in detectors(args.models):
        figures: dict[str, Any] = {}
        for g, images in sets.items():
            rows: dict[str, Any] = {}
            for item, dets in zip(images, detect_all(images, detector, OPTIONS), strict=True):
                gsd_in, pts = points[item.name]
                rows[item.name] = score_image(dets, pts, gsd_in, g, operating)
            figures[f"{g:g} m"] = rows
        out[path.name] = figures
    print(json.dumps(out, indent=1))


def score_image(
    detections: list[Detection],
    pts: list[list[Any]],
    gsd_in_m: float,
    gsd_m: float,
    operating: dict[ObjectClass, float],
) -> dict[str, Any]:
    """The figures of one image read at `gsd_m` (module docstring); `pts` are in the pixels of
    the image at `gsd_in_m`."""
    xy = np.array([p[:2] for p in pts], dtype=np.float64).reshape(-1, 2) * gsd_in_m  # metres
    kinds = np.array([p[2] for p in pts])
    lv = sorted((d for d in detections if d.object_class is LV), key=lambda d: -d.score)
    tp, counted = match(lv, xy, kinds, gsd_m)
    large = int((kinds == "large").sum())
    scores = np.array([d.score for d in lv])
    kept = counted & (scores >= operating[LV])
    at_op = tp[kept]
    matches = Matches(tp[counted], np.zeros(int(counted.sum()), np.int64), np.array([large]))
    above = at_threshold(detections, operating)
    short = xy[kinds == "short"]
    return {
        "large_vehicle_point_AP": round(matches.ap(np.ones(1)), 4),
        "at_threshold": {
            "large_vehicle_detected": int(kept.sum()),
            "large_vehicle_true": int(at_op.sum()),
            "large_vehicle_false": int((~at_op).sum()),
            "recall": round(float(at_op.sum()) / large, 4) if large else None,
            "short_buses_called": {
                c.value: near(short, [d for d in above if d.object_class is c], gsd_m)
                for c in (SV, LV)
            },
            "detections": {
                c.value: n for c in ObjectClass if (n := sum(d.object_class is c for d in above))
            },
        },
    }


def match(
    lv: list[Detection], xy: npt.NDArray[np.float64], kinds: npt.NDArray[Any], gsd_m: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For score-sorted detections: whether each is true (a full-size object's point within
    MATCH_M not yet taken) and whether it counts (false unless it lies on a short or ignored
    object instead)."""
    taken = np.zeros(len(xy), dtype=bool)
    tp = np.zeros(len(lv), dtype=bool)
    counted = np.ones(len(lv), dtype=bool)
    for k, d in enumerate(lv):
        if not len(xy):
            break
        dist = np.hypot(xy[:, 0] - d.box.cx * gsd_m, xy[:, 1] - d.box.cy * gsd_m)
        free = (kinds == "large") & ~taken & (dist <= MATCH_M)
        if free.any():
            j = int(np.where(free, dist, np.inf).argmin())
            taken[j] = tp[k] = True
        elif ((kinds != "large") & (dist <= MATCH_M)).any():
            counted[k] = False
    return tp, counted


def near(points_m: npt.NDArray[np.float64], detections: list[Detection], gsd_m: float) -> int:
    """How many of `points_m` have a detection centre within MATCH_M."""
    if not len(points_m) or not detections:
        return 0
    centres = np.array([(d.box.cx * gsd_m, d.box.cy * gsd_m) for d in detections])
    dist = np.hypot(*(points_m[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    return int((dist.min(axis=1) <= MATCH_M).sum())


if __name__ == "__main__":
    main()
