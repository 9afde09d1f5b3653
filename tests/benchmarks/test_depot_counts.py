"""The point matching of benchmarks/depot_counts.py (a script, loaded from its path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from sitewatch.core.models import Detection, ObjectClass, OrientedBox

LV, SV = ObjectClass.LARGE_VEHICLE, ObjectClass.SMALL_VEHICLE
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "depot_counts.py"


def _script() -> ModuleType:
    if str(SCRIPT.parent) not in sys.path:  # it imports its sibling dota_real_ap
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("depot_counts", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _det(cls: ObjectClass, score: float, cx: float, cy: float) -> Detection:
    return Detection(cls, score, OrientedBox(cx, cy, 40.0, 8.0, 0.0))


def test_points_match_once_and_short_buses_are_neither_true_nor_false() -> None:
    dc = _script()
    # labels at 0.125 m: two buses, a short bus, an ignored loader (pixels of that image)
    pts = [[400, 400, "large"], [400, 480, "large"], [800, 400, "short"], [800, 800, "ignore"]]
    # detections in pixels of the image read at 0.5 m (a quarter of the size)
    dets = [
        _det(LV, 0.9, 100.0, 100.0),  # on the first bus
        _det(LV, 0.8, 101.0, 101.0),  # a second box on it: false
        _det(LV, 0.7, 200.0, 100.0),  # on the short bus: not counted
        _det(LV, 0.6, 200.0, 200.0),  # on the loader: not counted
        _det(LV, 0.3, 100.0, 120.0),  # on the second bus, below the threshold
        _det(LV, 0.5, 50.0, 300.0),  # on nothing: false
        _det(SV, 0.9, 200.0, 101.0),  # a car box on the short bus
    ]
    row = dc.score_image(dets, pts, 0.125, 0.5, {c: 0.4 for c in ObjectClass})
    at = row["at_threshold"]
    assert at["large_vehicle_detected"] == 3
    assert at["large_vehicle_true"] == 1
    assert at["large_vehicle_false"] == 2
    assert at["recall"] == 0.5
    assert at["short_buses_called"] == {"small_vehicle": 1, "large_vehicle": 1}
    assert at["detections"] == {"small_vehicle": 1, "large_vehicle": 5}
    # ranked: TP, FP, FP (0.5), TP (0.3): precision 1 up to recall 0.5, then 0.5 at recall 1
    assert np.isclose(row["large_vehicle_point_AP"], (51 * 1.0 + 50 * 0.5) / 101, atol=1e-4)


def test_a_detection_beyond_three_metres_is_false() -> None:
    dc = _script()
    pts = [[400, 400, "large"]]  # 50 m, 50 m
    dets = [_det(LV, 0.9, 100.0 + 3.2 / 0.5, 100.0)]  # 3.2 m off
    row = dc.score_image(dets, pts, 0.125, 0.5, {c: 0.4 for c in ObjectClass})
    assert row["at_threshold"]["large_vehicle_true"] == 0
    assert row["large_vehicle_point_AP"] == 0.0
