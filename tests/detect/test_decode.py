"""Centre-heatmap decoding with extent masks: boxes of long objects from their footprints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sitewatch.core.models import ObjectClass, OrientedBox
from sitewatch.detect.decode import decode_sitewatch, footprint_rectangle
from sitewatch.detect.merge import rotated_iou

CLASSES = tuple(ObjectClass)
CRANE = CLASSES.index(ObjectClass.CRANE)
CAR = CLASSES.index(ObjectClass.SMALL_VEHICLE)
H = W = 128  # output cells at stride 2


def _outputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    peaks = np.zeros((len(CLASSES), H, W), np.float32)
    boxes = np.zeros((6, H, W), np.float32)
    boxes[2:4] = math.log(5.0)  # regressed boxes: 10 x 10 px
    boxes[5] = 1.0
    return peaks, boxes, np.zeros((1, H, W), np.float32)


def _draw_line(mask: np.ndarray, x0: float, y0: float, angle_deg: float, cells: int) -> None:
    t = math.radians(angle_deg)
    for s in np.linspace(0, cells, 4 * cells):
        mask[int(y0 + s * math.sin(t)), int(x0 + s * math.cos(t))] = 0.9


def test_crane_box_comes_from_its_footprint_once() -> None:
    peaks, boxes, masks = _outputs()
    _draw_line(masks[0], 20, 30, 30.0, 80)  # a jib of 80 cells = 160 px at 30 degrees
    masks[0, 30 + 20, 20 + 35] = 0.0  # a one-cell gap in the footprint is bridged
    cells = [
        (30 + int(s * math.sin(math.radians(30))), 20 + int(s * math.cos(math.radians(30))))
        for s in (40, 60)
    ]
    peaks[CRANE, cells[0][0], cells[0][1]] = 0.6
    peaks[CRANE, cells[1][0], cells[1][1]] = 0.4  # a second peak on the same footprint
    peaks[CRANE, 110, 110] = 0.5  # a peak on no footprint keeps its regressed box
    peaks[CAR, 100, 20] = 0.7  # other classes are left as they are
    thresholds = np.full(len(CLASSES), 0.3, np.float32)

    found = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, (ObjectClass.CRANE,))

    cranes = [d for d in found if d.object_class is ObjectClass.CRANE]
    assert [round(d.score, 2) for d in cranes] == [0.6, 0.5]
    truth = OrientedBox(
        40 + 160 * math.cos(math.radians(30)) / 2 + 1,
        60 + 160 * math.sin(math.radians(30)) / 2 + 1,
        160.0,
        3.0,
        30.0,
    )
    jib = cranes[0].box
    assert jib.length_px == pytest.approx(160, rel=0.05)
    assert jib.angle_deg == pytest.approx(30, abs=3)
    assert rotated_iou(jib, truth) > 0.5
    assert cranes[1].box.length_px == pytest.approx(10.0)
    car = next(d for d in found if d.object_class is ObjectClass.SMALL_VEHICLE)
    assert car.box.length_px == pytest.approx(10.0)
    # without masks the same peaks decode to regressed boxes, both kept
    plain = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2)
    assert sum(d.object_class is ObjectClass.CRANE for d in plain) == 3


def test_gantry_footprint_gives_its_outline() -> None:
    peaks, boxes, masks = _outputs()
    masks[0, 40:42, 30:60] = 0.8  # two rails 30 cells long, 20 cells apart
    masks[0, 60:62, 30:60] = 0.8
    masks[0, 40:62, 44:46] = 0.8  # the beam across
    peaks[CRANE, 41, 35] = 0.5  # the peak sits on one rail
    thresholds = np.full(len(CLASSES), 0.3, np.float32)
    (d,) = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, (ObjectClass.CRANE,))
    assert (d.box.cx, d.box.cy) == pytest.approx((90.0, 102.0))
    assert (d.box.length_px, d.box.width_px) == pytest.approx((60.0, 44.0))
    assert d.box.angle_deg % 90 == pytest.approx(0.0, abs=1e-6)


def test_footprint_rectangle_of_a_diagonal_line() -> None:
    i = np.arange(50)
    cx, cy, length, width, angle = footprint_rectangle(i, i, 2)
    assert (cx, cy, angle) == pytest.approx((50.0, 50.0, 45.0))
    assert length == pytest.approx(100 * math.sqrt(2))
    assert width == pytest.approx(2 * math.sqrt(2))


def test_footprint_required_drops_peaks_on_no_footprint() -> None:
    peaks, boxes, masks = _outputs()
    masks[0, 40:42, 30:60] = 0.8  # one footprint
    peaks[CRANE, 40, 45] = 0.6  # on it
    peaks[CRANE, 100, 100] = 0.7  # on none: a false peak on a roof, say
    peaks[CAR, 100, 20] = 0.7  # a class without a mask is untouched
    thresholds = np.full(len(CLASSES), 0.3, np.float32)
    crane = (ObjectClass.CRANE,)

    optional = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, crane)
    required = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, crane, crane)

    assert [round(d.score, 2) for d in optional if d.object_class is ObjectClass.CRANE] == [
        0.7,
        0.6,
    ]
    (kept,) = [d for d in required if d.object_class is ObjectClass.CRANE]
    assert kept.score == pytest.approx(0.6) and kept.box.length_px == pytest.approx(60, rel=0.1)
    assert any(d.object_class is ObjectClass.SMALL_VEHICLE for d in required)


LV = CLASSES.index(ObjectClass.LARGE_VEHICLE)


def test_footprint_axis_gives_long_vehicles_their_length_and_keeps_neighbours_apart() -> None:
    peaks, boxes, _ = _outputs()
    masks = np.zeros((2, H, W), np.float32)  # crane, large_vehicle
    # two 30-cell (60 px, 18 m at 0.3 m) trucks side by side, one empty cell between them,
    # and a short one along a diagonal; the regressed boxes are all 10 px long
    masks[1, 20:24, 10:40] = 0.9
    masks[1, 25:29, 10:40] = 0.9
    for s in range(12):
        masks[1, 70 + s : 72 + s, 70 + s : 72 + s] = 0.9
    peaks[LV, 21, 30] = 0.6  # off-centre along the first truck
    peaks[LV, 26, 15] = 0.5
    peaks[LV, 75, 75] = 0.45
    boxes[4, 75, 75], boxes[5, 75, 75] = 1.0, 0.0  # sin 2a = 1: 45 degrees
    peaks[LV, 100, 20] = 0.4  # on no footprint: keeps its regressed box
    masks[1, 100:104, 50:60] = 0.9  # a footprint found in part (10 cells) under a longer box
    peaks[LV, 102, 55] = 0.35
    boxes[2, 102, 55] = math.log(20.0)  # regressed 40 px long: a box is never shortened
    boxes[0:2] = 0.5  # centres in the middle of their cells
    thresholds = np.full(len(CLASSES), 0.3, np.float32)
    masked = (ObjectClass.CRANE, ObjectClass.LARGE_VEHICLE)
    axis = (ObjectClass.LARGE_VEHICLE,)

    found = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, masked, (), axis)

    first, second, diagonal, lone, partial = found
    assert partial.box.length_px == pytest.approx(40.0) and partial.box.cx == pytest.approx(111)
    # the centre moves along the axis only: across it, it stays where the peak put it
    for truck, cy in ((first, 43.0), (second, 53.0)):
        assert truck.box.length_px == pytest.approx(60.0, abs=1.5)
        assert (truck.box.cx, truck.box.cy) == pytest.approx((50.0, cy), abs=1.0)
        assert truck.box.width_px == pytest.approx(10.0)  # width and angle stay regressed
        assert truck.box.angle_deg == pytest.approx(0.0)
    assert diagonal.box.angle_deg == pytest.approx(45.0)
    assert diagonal.box.length_px == pytest.approx(13 * 2 * math.sqrt(2), rel=0.15)
    assert lone.box.length_px == pytest.approx(10.0) and lone.score == pytest.approx(0.4)
    # a footprint rectangle (the crane rule) would join the two trucks into one detection
    joined = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, masked)
    assert sum(d.object_class is ObjectClass.LARGE_VEHICLE for d in joined) == 4
    # with the footprint required, the peak on none goes
    required = decode_sitewatch(peaks, boxes, CLASSES, thresholds, 2, masks, masked, axis, axis)
    assert len(required) == 4
