"""Tiling covers every pixel, cores partition the image, and merging keeps each object once."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.core.models import Detection, ObjectClass, OrientedBox
from sitewatch.detect.merge import inner_peak_keep, suppress_duplicates
from sitewatch.detect.run import DetectOptions, detect_array
from sitewatch.detect.tiling import tile_image
from sitewatch.errors import ConfigError, InputError
from tests.detect.fakes import FAKE_INFO, FakeDetector, paint


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(1, 900),
    cols=st.integers(1, 900),
    tile=st.integers(32, 400),
    overlap_frac=st.floats(0.0, 0.9),
)
def test_cores_partition_and_tiles_cover(
    rows: int, cols: int, tile: int, overlap_frac: float
) -> None:
    overlap = int(tile * overlap_frac)
    tiles = tile_image(rows, cols, tile, overlap)
    owned = np.zeros((rows, cols), dtype=np.int32)
    covered = np.zeros((rows, cols), dtype=np.int32)
    for t in tiles:
        assert t.row >= 0 and t.row + t.rows <= rows and t.rows <= tile
        assert t.col >= 0 and t.col + t.cols <= cols and t.cols <= tile
        assert t.row <= t.core_row0 < t.core_row1 <= t.row + t.rows
        assert t.col <= t.core_col0 < t.core_col1 <= t.col + t.cols
        owned[t.core_row0 : t.core_row1, t.core_col0 : t.core_col1] += 1
        covered[t.row : t.row + t.rows, t.col : t.col + t.cols] += 1
    assert (owned == 1).all()
    assert (covered >= 1).all()


def test_the_last_tile_of_a_row_ends_at_the_edge_and_is_shorter() -> None:
    tiles = tile_image(1100, 6144, 1024, 128)
    cols = sorted({(t.col, t.cols) for t in tiles})
    assert cols == [(896 * k, 1024) for k in range(6)] + [(5376, 768)]
    assert sorted({(t.row, t.rows) for t in tiles}) == [(0, 1024), (896, 204)]
    # a batch of two gets tiles of different sizes: each size is run on its own
    image = paint(300, 340, [(10, 10, 12, 4), (250, 300, 12, 4), (150, 230, 12, 4)])
    one = detect_array(image, FakeDetector(128), DetectOptions(overlap_px=16, batch=1))
    two = detect_array(image, FakeDetector(128), DetectOptions(overlap_px=16, batch=2))
    assert one.detections == two.detections and len(one.detections) == 3


def test_bad_tiling_is_refused() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        tile_image(100, 100, 64, 64)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    tile=st.sampled_from([64, 96, 128]),
    n=st.integers(1, 12),
)
def test_objects_cut_by_tile_borders_come_out_once(data: st.DataObject, tile: int, n: int) -> None:
    rows, cols = 300, 340
    overlap = 32  # objects up to 16 px reach at most overlap / 2 past a core edge
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(n):
        h, w = data.draw(st.integers(2, 16)), data.draw(st.integers(2, 16))
        r, c = data.draw(st.integers(0, rows - h)), data.draw(st.integers(0, cols - w))
        apart = all(
            r + h <= r2 or r2 + h2 <= r or c + w <= c2 or c2 + w2 <= c for r2, c2, h2, w2 in boxes
        )
        if apart:  # objects do not overlap, so each is a whole rectangle
            boxes.append((r, c, h, w))
    image = paint(rows, cols, boxes)
    result = detect_array(image, FakeDetector(tile), DetectOptions(overlap_px=overlap, batch=3))
    ids = sorted(round(d.score * 1000) for d in result.detections)
    assert ids == list(range(1, len(boxes) + 1))  # every object exactly once
    for d in result.detections:
        r, c, h, w = boxes[round(d.score * 1000) - 1]
        assert (d.box.cx, d.box.cy) == pytest.approx((c + w / 2, r + h / 2))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), tile=st.sampled_from([64, 96, 128]), n=st.integers(1, 6))
def test_footprint_objects_longer_than_a_tile_come_out_once_and_whole(
    data: st.DataObject, tile: int, n: int
) -> None:
    rows, cols = 300, 340
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(n):
        long, short = data.draw(st.integers(20, 250)), data.draw(st.integers(2, 12))
        h, w = (long, short) if data.draw(st.booleans()) else (short, long)
        r, c = data.draw(st.integers(0, rows - h)), data.draw(st.integers(0, cols - w))
        apart = all(  # 2 px apart: boxes of different objects do not touch
            r + h + 2 <= r2 or r2 + h2 + 2 <= r or c + w + 2 <= c2 or c2 + w2 + 2 <= c
            for r2, c2, h2, w2 in boxes
        )
        if apart:
            boxes.append((r, c, h, w))
    image = paint(rows, cols, boxes)
    info = replace(FAKE_INFO, footprint_classes=(ObjectClass.SMALL_VEHICLE,))
    options = DetectOptions(overlap_px=16, batch=2)
    result = detect_array(image, FakeDetector(tile, info), options)
    ids = sorted(round(d.score * 1000) for d in result.detections)
    assert ids == list(range(1, len(boxes) + 1))  # every object exactly once
    for d in result.detections:
        r, c, h, w = boxes[round(d.score * 1000) - 1]
        assert (d.box.cx, d.box.cy) == pytest.approx((c + w / 2, r + h / 2))
        assert (d.box.length_px, d.box.width_px) == pytest.approx((max(h, w), min(h, w)))
    # without footprint classes the same objects come out cut, some more than once
    plain = detect_array(image, FakeDetector(tile), options).detections
    if any(max(h, w) > tile for _, _, h, w in boxes):
        assert len(plain) != len(boxes) or any(
            d.box.length_px < max(boxes[round(d.score * 1000) - 1][2:]) for d in plain
        )


def test_empty_and_nodata_tiles_are_skipped_and_counted() -> None:
    image = paint(256, 512, [(10, 10, 8, 8), (150, 20, 8, 8)])
    image[:, :, 256:] = 0  # right half: one flat value
    valid = np.ones((256, 512), dtype=bool)
    valid[:128, :] = False
    fake = FakeDetector(128)
    result = detect_array(image, fake, DetectOptions(overlap_px=0, batch=2), valid)
    assert result.tiles_run + result.tiles_skipped == 8
    # 4 all-nodata tiles on top; of the bottom row only the tile with an object is not flat
    assert (result.tiles_run, result.tiles_skipped) == (1, 7)
    assert len(result.detections) == 1  # the other object lies in the nodata half
    assert result.detections[0].box.cx == pytest.approx(24)
    assert sum(fake.batches) == result.tiles_run


def _det(cx: float, cy: float, score: float, cls: ObjectClass = ObjectClass.RAIL_CAR) -> Detection:
    return Detection(cls, score, OrientedBox(cx, cy, 40.0, 8.0, 30.0))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 200), st.floats(0, 200), st.floats(0.1, 1.0)), max_size=15),
    st.randoms(),
)
def test_suppression_is_idempotent_and_order_independent(
    items: list[tuple[float, float, float]], rnd: object
) -> None:
    dets = [_det(x, y, s) for x, y, s in items]
    once = suppress_duplicates(dets)
    assert suppress_duplicates(once) == once
    shuffled = list(dets)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert sorted(suppress_duplicates(shuffled), key=repr) == sorted(once, key=repr)


def test_suppression_keeps_other_classes_and_separate_objects() -> None:
    a = _det(50, 50, 0.9)
    dup = _det(51, 50, 0.5)
    other_class = _det(50, 50, 0.8, ObjectClass.CONTAINER)
    far = _det(150, 150, 0.4)
    assert suppress_duplicates([dup, far, a, other_class]) == [a, other_class, far]


def _suppress_pair_by_pair(detections: list[Detection], iou: float) -> list[Detection]:
    """Greedy NMS as its definition reads: one pair of shapely polygons at a time."""
    from sitewatch.detect.merge import rotated_iou

    def area(d: Detection) -> float:
        return d.box.length_px * d.box.width_px

    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: (-d.score, d.box.cx, d.box.cy)):
        twin = False
        for k in kept:
            if k.object_class is not d.object_class:
                continue
            u = rotated_iou(k.box, d.box)
            inter = u * (area(k) + area(d)) / (1 + u)
            twin = twin or u > iou or inter / min(area(k), area(d)) > 0.8 + 1e-9
        if not twin:
            kept.append(d)
    return kept


def test_suppression_matches_the_pairwise_definition_on_dense_boxes() -> None:
    """The vectorised overlaps give the greedy pass what pair-by-pair geometry gives it."""
    rng = np.random.default_rng(3)
    classes = [ObjectClass.SMALL_VEHICLE, ObjectClass.LARGE_VEHICLE]
    dets = [
        Detection(
            classes[int(rng.integers(0, 2))],
            float(rng.random()),
            OrientedBox(
                float(rng.random() * 150),
                float(rng.random() * 150),
                float(8 + rng.random() * 30),
                float(3 + rng.random() * 6),
                float(rng.random() * 180),
            ),
        )
        for _ in range(300)
    ]
    for iou in (0.3, 0.5):
        got = suppress_duplicates(dets, iou)
        assert 30 < len(got) < 290
        assert got == _suppress_pair_by_pair(dets, iou)


def test_box_corners_are_each_box_s_corners() -> None:
    from sitewatch.core.models import box_corners

    boxes = [OrientedBox(10.0, 20.0, 30.0, 6.0, a) for a in (0.0, 33.3, 90.0, 179.9)]
    many = box_corners(boxes)
    assert many.shape == (4, 4, 2)
    for box, corners in zip(boxes, many, strict=True):
        np.testing.assert_array_equal(box.corners(), corners)
    np.testing.assert_allclose(many[0], [[-5, 17], [25, 17], [25, 23], [-5, 23]])
    assert box_corners([]).shape == (0, 4, 2)


def _suppress_inner_peaks(detections: list[Detection]) -> list[Detection]:
    """Detections in decreasing score order, minus those `inner_peak_keep` drops."""
    ds = sorted(detections, key=lambda d: (-d.score, d.box.cx, d.box.cy))
    cols = np.array(
        [(d.box.cx, d.box.cy, d.box.length_px, d.box.width_px, d.box.angle_deg) for d in ds]
    )
    keep = inner_peak_keep(np.array([d.object_class.value for d in ds]), *cols.T)
    return [d for d, k in zip(ds, keep.tolist(), strict=True) if k]


def test_inner_peaks_of_a_long_object_are_dropped_neighbours_kept() -> None:
    def box(x: float, y: float, s: float, cls: ObjectClass = ObjectClass.RAIL_CAR) -> Detection:
        return Detection(cls, s, OrientedBox(x, y, 40, 6, 30.0))

    car = box(100, 100, 0.9)
    # a second peak 12 px along the same car's axis: its centre lies inside the car's box
    copy = box(100 + 12 * np.cos(np.radians(30)), 100 + 12 * np.sin(np.radians(30)), 0.6)
    # the next car of the train (42 px along) and a parallel car 7 px across are kept
    nxt = box(100 + 42 * np.cos(np.radians(30)), 100 + 42 * np.sin(np.radians(30)), 0.5)
    beside = box(100 - 7 * np.sin(np.radians(30)), 100 + 7 * np.cos(np.radians(30)), 0.95)
    other = box(101, 100, 0.4, ObjectClass.CONTAINER)
    kept = _suppress_inner_peaks([copy, nxt, other, car, beside])
    assert kept == [beside, car, nxt, other]
    assert _suppress_inner_peaks(kept) == kept


def test_footprint_piece_deep_inside_a_neighbours_core_is_joined() -> None:
    # found by the property test above: the last row of tiles starts at 172, so the tile above
    # (rows 112-240, core to 206) cuts the object (rows 222-242) 34 px inside its neighbour's
    # core, farther than the overlap band, and the whole object must still absorb that piece
    image = paint(300, 340, [(222, 0, 20, 2)])
    info = replace(FAKE_INFO, footprint_classes=(ObjectClass.SMALL_VEHICLE,))
    result = detect_array(image, FakeDetector(128, info), DetectOptions(overlap_px=16, batch=2))
    (d,) = result.detections
    assert (d.box.cx, d.box.cy, d.box.length_px) == pytest.approx((1.0, 232.0, 20.0))


def test_boxes_shorter_than_their_class_are_dropped_after_pieces_are_joined() -> None:
    # a 20 px object cut by the tile border at row 240 (pieces of 18 and 2 px) and a 12 px one;
    # at 0.5 m per pixel the 9.5 m minimum is 19 px: the joined object stays, the short one goes
    image = paint(300, 340, [(222, 0, 20, 2), (50, 50, 12, 2)])
    info = replace(
        FAKE_INFO,
        footprint_classes=(ObjectClass.SMALL_VEHICLE,),
        min_length_m={ObjectClass.SMALL_VEHICLE: 9.5},
    )
    options = DetectOptions(overlap_px=16, batch=2)
    result = detect_array(image, FakeDetector(128, info), options, pixel_m=0.5)
    (d,) = result.detections
    assert (d.box.cy, d.box.length_px) == pytest.approx((232.0, 20.0))
    # at 1 m per pixel the same objects are 20 m and 12 m long: both stay
    assert len(detect_array(image, FakeDetector(128, info), options, pixel_m=1.0).detections) == 2
    with pytest.raises(InputError, match=r"small_vehicle 9.5 m: the image's ground sample"):
        detect_array(image, FakeDetector(128, info), options)
