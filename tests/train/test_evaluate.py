"""Evaluation metrics: AP and counting on cases whose answer is known, rotated IoU, and generated
objects that land where their labels say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sitewatch.core.models import Detection, ModelInfo, ObjectClass, OrientedBox
from sitewatch.detect.run import DetectOptions
from sitewatch.train.dataset import Target
from sitewatch.train.evaluate import (
    EvalImage,
    _ap,
    ap_difference_interval,
    evaluate,
    ignore_real,
    iou,
    paired_intervals,
    score_detections,
)
from sitewatch.train.release import metrics_section
from sitewatch.train.synth import add_generated

SV = ObjectClass.SMALL_VEHICLE


class ListDetector:
    """Returns given detections for the first tile it sees of each image, in order."""

    info = ModelInfo("list", "0" * 64, "fake", tuple(ObjectClass), 512, 0.2, 0.7, {})
    tile_px = 512

    def __init__(self, per_image: list[list[Detection]]) -> None:
        self.per_image = list(per_image)

    def predict(self, batch: np.ndarray) -> list[list[Detection]]:
        return [self.per_image.pop(0) for _ in range(batch.shape[0])]


def _image(targets: list[Target]) -> EvalImage:
    pixels = np.random.default_rng(0).integers(0, 255, (3, 200, 200), dtype=np.uint8)
    return EvalImage("x", pixels, tuple(targets), frozenset({SV}), 0.3)


def _t(cx: float, cy: float, oriented: bool = True) -> Target:
    return Target(SV, OrientedBox(cx, cy, 15, 6, 30), oriented)


def _d(cx: float, cy: float, score: float) -> Detection:
    return Detection(SV, score, OrientedBox(cx, cy, 15, 6, 30))


def test_perfect_detections_give_ap_one_and_zero_count_error() -> None:
    gts = [_t(20, 20), _t(60, 60), _t(120, 40, oriented=False)]
    dets = [_d(20, 20, 0.9), _d(60, 60, 0.8), _d(120, 40, 0.7)]
    r = evaluate(ListDetector([dets]), [_image(gts)], DetectOptions(overlap_px=0), {SV: 0.5})
    sv = r["small_vehicle"]
    assert sv["AP50"] == pytest.approx(1.0) and sv["AP50_95"] == pytest.approx(1.0)
    assert (sv["precision"], sv["recall"], sv["count_MAE"], sv["count_MAPE"]) == (1, 1, 0, 0)


def test_false_positive_ranked_first_and_a_miss_lower_ap_and_counts() -> None:
    gts = [_t(20, 20), _t(60, 60)]
    dets = [_d(150, 150, 0.95), _d(20, 20, 0.9), _d(60, 60, 0.2)]
    r = evaluate(ListDetector([dets]), [_image(gts)], DetectOptions(overlap_px=0), {SV: 0.5})[
        "small_vehicle"
    ]
    # PR points: (0, 0), (0.5, 0.5), (1.0, 0.667): interpolated AP = (51 * 0.667 + 50 * 0.667) / 101
    assert r["AP50"] == pytest.approx(2 / 3, abs=0.01)
    assert (r["precision"], r["recall"]) == (0.5, 0.5)
    assert r["count_MAE"] == 0 and r["count_MAPE"] == 0  # two counted (one wrong), two true


def _two_images() -> tuple[list[EvalImage], list[list[Detection]]]:
    """Image A: two cars, one found at 0.9, a false alarm at 0.4; image B: one car found at 0.3
    under a false alarm at 0.8."""
    a = _image([_t(20, 20), _t(60, 60)])
    b = _image([_t(100, 100)])
    return [a, b], [[_d(20, 20, 0.9), _d(150, 30, 0.4)], [_d(30, 150, 0.8), _d(100, 100, 0.3)]]


def test_a_bootstrap_weight_counts_an_image_as_often_as_a_resample_repeats_it() -> None:
    (a, b), (da, db) = _two_images()
    repeated = evaluate(
        ListDetector([da, da, db]), [a, a, b], DetectOptions(overlap_px=0), {SV: 0.5}
    )["small_vehicle"]
    # the same predictions scored once, image A weighted twice: 0.9 A+, 0.8 B-, 0.4 A-, 0.3 B+
    tp = np.array([True, False, False, True])
    weighted, _, _ = _ap(tp, 5.0, np.array([2.0, 1.0, 2.0, 1.0]))
    assert weighted == pytest.approx(repeated["AP50"])
    assert _ap(tp, 3.0)[0] != pytest.approx(weighted)  # the weights matter here


def test_ap50_comes_with_a_bootstrap_interval_over_images() -> None:
    perfect = [_image([_t(20, 20), _t(60, 60)]) for _ in range(8)]
    dets = [[_d(20, 20, 0.9), _d(60, 60, 0.8)] for _ in range(8)]
    r = evaluate(ListDetector(dets), perfect, DetectOptions(overlap_px=0), {SV: 0.5})
    assert r["small_vehicle"]["AP50_interval"] == pytest.approx((1.0, 1.0))
    rng = np.random.default_rng(3)
    images, per_image = [], []
    for _ in range(12):  # two cars an image, each found with some score, one false alarm
        images.append(_image([_t(20, 20), _t(60, 60)]))
        s1, s2, s3 = rng.uniform(0.1, 1.0, 3)
        per_image.append([_d(20, 20, s1), _d(60, 60, s2), _d(150, 30, s3)])
    mixed = evaluate(ListDetector(per_image), images, DetectOptions(overlap_px=0), {SV: 0.5})
    lo, hi = mixed["small_vehicle"]["AP50_interval"]
    assert lo < mixed["small_vehicle"]["AP50"] < hi and hi - lo > 0.05
    again = evaluate(ListDetector(per_image), images, DetectOptions(overlap_px=0), {SV: 0.5})
    assert again["small_vehicle"]["AP50_interval"] == (lo, hi)  # a fixed seed: reproducible


def test_two_detectors_on_the_same_images_are_compared_paired() -> None:
    rng = np.random.default_rng(5)
    images, good, worse = [], [], []
    for k in range(12):
        images.append(_image([_t(20, 20), _t(60, 60)]))
        s1, s2, s3 = rng.uniform(0.1, 0.9, 3)
        good.append([_d(20, 20, s1), _d(60, 60, s2), _d(150, 30, s3)])
        # the same, with a false alarm above everything on every third image
        worse.append(good[-1] + ([_d(30, 150, 0.95)] if k % 3 == 0 else []))
    opts, op = DetectOptions(overlap_px=0), {SV: 0.5}
    a = evaluate(ListDetector(good), images, opts, op)["small_vehicle"]
    b = evaluate(ListDetector(worse), images, opts, op)["small_vehicle"]
    assert a["AP50"] > b["AP50"]
    lo, hi = ap_difference_interval([(a["matches"], b["matches"])])
    assert paired_intervals({"small_vehicle": a}, {"small_vehicle": b}) == {
        "small_vehicle": (lo, hi)
    }
    assert 0 < lo <= a["AP50"] - b["AP50"] <= hi
    # narrower than either model's own interval: what both get right or wrong cancels out
    assert hi - lo < a["AP50_interval"][1] - a["AP50_interval"][0]
    assert ap_difference_interval([(a["matches"], a["matches"])]) == (0.0, 0.0)
    # a mean over classes: the same resamples for every pair, so a second, unchanged class
    # halves each resample's difference
    half = ap_difference_interval([(a["matches"], b["matches"]), (a["matches"], a["matches"])])
    assert half == pytest.approx((lo / 2, hi / 2))
    other = evaluate(ListDetector(good[:6]), images[:6], opts, op)["small_vehicle"]
    with pytest.raises(ValueError, match="same images"):
        ap_difference_interval([(a["matches"], other["matches"])])


def test_rotated_iou_and_envelope_iou() -> None:
    box = OrientedBox(50, 50, 20, 4, 45)
    assert iou(box, Target(SV, box, True)) == pytest.approx(1.0)
    turned = OrientedBox(50, 50, 20, 4, 135)
    assert iou(box, Target(SV, turned, True)) == pytest.approx(16 / (80 + 80 - 16), rel=1e-3)
    # against an axis-aligned truth, the prediction's envelope is compared (orientation unknown)
    side = 2 * (box.aabb()[2] - 50)
    envelope = OrientedBox(50, 50, side, side, 0)
    assert iou(box, Target(SV, envelope, False)) == pytest.approx(1.0)
    assert iou(box, Target(SV, envelope, True)) < 0.5


def test_generated_objects_are_drawn_where_their_labels_are() -> None:
    rng = np.random.default_rng(3)
    image = np.full((3, 400, 400), 120.0, dtype=np.float32)
    before = image.copy()
    labels = add_generated(image, 0.3, rng, (ObjectClass.CONTAINER, ObjectClass.CRANE), [], 4)
    assert labels
    for _, box in labels:
        r, c = int(box.cy), int(box.cx)
        if 0 <= r < 400 and 0 <= c < 400:
            assert np.abs(image[:, r, c] - before[:, r, c]).max() > 5
    assert np.abs(image - before).max(axis=0).mean() < 0.5 * 255


def test_generated_cranes_fit_between_parked_cars_without_covering_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Placement tests the footprints of an object's parts, not its envelope: a thin crane jib
    fits between parked cars, where its envelope mostly would not, and covers none of them.
    (Measured with these seeds: 19 of 40 placed at one try each, 8 with envelopes.)"""
    from sitewatch.train import synth

    cars = [  # a car every 80 px across the whole frame
        OrientedBox(float(x), float(y), 15, 6, 0)
        for y in range(30, 600, 80)
        for x in range(30, 600, 80)
    ]

    def placed(tries: int) -> int:
        monkeypatch.setattr(synth, "PLACEMENT_TRIES", tries)
        rng, n = np.random.default_rng(5), 0
        for _ in range(40):
            image = np.full((3, 600, 600), 120.0, dtype=np.float32)
            for cls, box in add_generated(image, 0.3, rng, (ObjectClass.CRANE,), list(cars), 1):
                n += 1
                assert cls is ObjectClass.CRANE and box.length_px >= box.width_px
                x0, y0, x1, y1 = box.aabb()
                if min(x0, y0) > 1 and max(x1, y1) < 599:  # not cut by the frame's edge
                    assert box.length_px > 65  # a whole crane (20 m or more), not a part of one
        return n

    assert placed(1) >= 14
    assert placed(5) >= 30
    assert not synth._free(cars, [OrientedBox(30, 30, 100, 2, 0)])  # over a car
    assert synth._free(cars, [OrientedBox(300, 70, 500, 2, 0)])  # along the gap between rows


def test_objects_cut_by_the_image_edge_are_labelled_by_their_visible_part() -> None:
    import shapely

    from sitewatch.train.synth import visible_part

    inside = OrientedBox(50, 50, 40, 6, 30)
    assert visible_part(inside, 200, 200) == inside
    jib = visible_part(OrientedBox(10, 50, 100, 6, 0), 200, 200)  # 40 px of it leave the frame
    assert (jib.cx, jib.cy, jib.length_px, jib.width_px, jib.angle_deg) == pytest.approx(
        (30, 50, 60, 6, 0)
    )
    diagonal = visible_part(OrientedBox(10, 10, 100, 6, 45), 200, 200)
    assert diagonal.angle_deg == pytest.approx(45) and diagonal.width_px == pytest.approx(6)
    assert 60 < diagonal.length_px < 70
    rng = np.random.default_rng(3)
    for _ in range(20):
        image = np.full((3, 120, 120), 120.0, dtype=np.float32)
        for _, box in add_generated(image, 0.3, rng, (ObjectClass.CRANE,), [], 2):
            label = shapely.Polygon(box.corners())  # at least half inside the frame
            assert label.intersection(shapely.box(0, 0, 120, 120)).area >= 0.5 * label.area


def _shadow(part_base_m: float) -> np.ndarray:
    """Darkened pixels (bool) around a 10 x 3 m box 6 m high, drawn along x at (50, 50) at
    0.3 m, the sun at 45 degrees casting shadows towards +y."""
    from sitewatch.train.synth import Part, Sun, render_parts

    image = np.full((3, 100, 100), 120.0, dtype=np.float32)
    part = Part(0, 0, 10, 3, (240.0, 240.0, 240.0), 6.0, 0.0, part_base_m)
    sun = Sun(np.pi / 2, 1.0, 0.5)
    render_parts(image, [part], 50, 50, 0.0, 0.3, sun, np.random.default_rng(0))
    dark: np.ndarray = image.max(axis=0) < 100
    return dark


def test_solid_objects_cast_shadows_attached_to_them_and_held_up_parts_cast_them_apart() -> None:
    """A box standing on the ground darkens the ground from its own edge (y 55) out to its
    top's shadow (6 m at 45 degrees: 20 px further); a part held up at 5-6 m casts its shadow
    17-20 px away, with lit ground between, as a crane jib's."""
    ground = _shadow(0.0)[:, 50]
    assert ground[56:74].all() and not ground[77:].any() and not ground[:45].any()
    held = _shadow(5.0)[:, 50]
    assert not held[56:61].any() and held[63:74].all() and not held[77:].any()


def test_drawn_objects_are_blurred_like_their_background_and_the_rest_is_untouched() -> None:
    rng = np.random.default_rng(4)
    image = np.random.default_rng(1).uniform(0, 255, (3, 300, 300)).astype(np.float32)
    before = image.copy()
    add_generated(image, 0.3, rng, (ObjectClass.LARGE_VEHICLE,), [], 1)
    changed = np.abs(image - before).max(axis=0) > 1e-3
    assert 0 < changed.mean() < 0.2  # one vehicle and its shadow, not the whole frame
    from sitewatch.train.synth import Part, Sun, render_parts, soften

    sharp = np.zeros((3, 40, 40), dtype=np.float32)
    render_parts(sharp, [Part(0, 0, 6, 6, (255.0,) * 3, 0.0)], 20, 20, 0.0, 0.3, Sun(0, 0, 0), rng)
    soft = sharp.copy()
    soften(soft, np.zeros_like(sharp), 0.8)
    step = lambda a: np.abs(np.diff(a[0, 20])).max()  # noqa: E731
    assert step(soft) < 0.6 * step(sharp)  # edges softened
    assert soft.sum() == pytest.approx(sharp.sum(), rel=1e-3)  # energy kept, nothing added


def test_the_model_card_shows_each_ap50_with_its_interval(tmp_path: Path) -> None:
    row = {"objects": 42, "AP50": 0.6, "AP50_95": 0.3, "precision": 0.7, "recall": 0.5}
    row |= {"count_MAE": 1.0, "count_MAPE": None, "AP50_interval": [0.5, 0.69]}
    older = {k: v for k, v in row.items() if k != "AP50_interval"}
    doc = {"model": "m.onnx", "model_sha256": "0" * 64}
    doc["results"] = {"generated 0.3 m": {"large_vehicle": row, "crane": older}}
    (tmp_path / "eval.json").write_text(json.dumps(doc))
    text = metrics_section(tmp_path / "eval.json")
    assert "| generated 0.3 m | large_vehicle | 42 | 0.600 | 0.50-0.69 | 0.300 |" in text
    assert "| generated 0.3 m | crane | 42 | 0.600 | - | 0.300 |" in text  # made before intervals
    assert "real ignored" not in text
    doc["results"]["generated 0.3 m, real ignored"] = {"large_vehicle": row}
    (tmp_path / "eval.json").write_text(json.dumps(doc))
    text = metrics_section(tmp_path / "eval.json")
    assert "Rows *real ignored*" in text
    assert "| generated 0.3 m, real ignored | large_vehicle | 42 | 0.600 |" in text
    assert "draws of generated objects" not in text
    (tmp_path / "eval.json").write_text(json.dumps(doc | {"generated_draws": 20}))
    assert "Generated rows pool 20 draws" in metrics_section(tmp_path / "eval.json")


LV = ObjectClass.LARGE_VEHICLE


def _scene(targets: list[Target], drawn: int, generated: bool = True) -> EvalImage:
    pixels = np.zeros((3, 200, 200), dtype=np.uint8)
    return EvalImage("g", pixels, tuple(targets), frozenset({SV, LV}), 0.3, generated, drawn)


def test_ignore_real_leaves_real_trucks_out_of_the_generated_row() -> None:
    real_truck = Target(LV, OrientedBox(40, 40, 30, 8, 0), False)
    real_car = Target(SV, OrientedBox(100, 100, 15, 6, 0), False)
    drawn_truck = Target(LV, OrientedBox(150, 60, 30, 8, 45), True)
    scene = _scene([real_truck, real_car, drawn_truck], drawn=1)
    found = [
        Detection(LV, 0.9, OrientedBox(40, 40, 30, 8, 0)),  # on the real truck
        Detection(LV, 0.7, OrientedBox(150, 160, 30, 8, 45)),  # a false alarm
        Detection(LV, 0.6, OrientedBox(150, 60, 30, 8, 45)),  # on the drawn truck
        Detection(SV, 0.8, OrientedBox(100, 100, 15, 6, 0)),
    ]
    op = {LV: 0.5, SV: 0.5}
    mixed = score_detections([scene], [found], op)
    images, kept, classes = ignore_real([scene], [found])
    alone = score_detections(images, kept, op)
    assert classes == {LV}
    assert mixed["large_vehicle"]["objects"] == 2 and alone["large_vehicle"]["objects"] == 1
    # mixed: hit (0.9), false alarm, hit: precision 1 up to recall 0.5, then 2/3 (101 points);
    # alone: false alarm, hit: precision 0.5 everywhere
    assert mixed["large_vehicle"]["AP50"] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert alone["large_vehicle"]["AP50"] == pytest.approx(0.5, abs=0.01)
    assert alone["large_vehicle"]["precision"] == pytest.approx(0.5)
    # the real cars are not a generated class: kept, and their row unchanged
    assert alone["small_vehicle"]["objects"] == mixed["small_vehicle"]["objects"] == 1
    assert alone["small_vehicle"]["AP50"] == mixed["small_vehicle"]["AP50"] == 1.0
    assert len(kept[0]) == 3


def test_ignore_real_leaves_real_frames_alone() -> None:
    truck = Target(LV, OrientedBox(40, 40, 30, 8, 0), False)
    frame = _scene([truck], drawn=0, generated=False)
    found = [Detection(LV, 0.9, OrientedBox(40, 40, 30, 8, 0))]
    images, kept, classes = ignore_real([frame], [found])
    assert classes == frozenset() and images[0] is frame and kept == [found]
