"""Generated large vehicles parked in rows: side by side, one label each, and no change to what
is drawn when the option is off. Moorings of boats: drawn, never labelled, and kept clear of
labelled objects."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import shapely

from sitewatch.core.models import ObjectClass, OrientedBox
from sitewatch.train.config import TrainConfig
from sitewatch.train.synth import GeneratorOptions as Opt
from sitewatch.train.synth import add_generated, large_vehicle_row, mooring

LV = ObjectClass.LARGE_VEHICLE


def test_a_row_of_vehicles_is_side_by_side_and_apart() -> None:
    rng = np.random.default_rng(11)
    for _ in range(30):
        items = large_vehicle_row(rng)
        assert 1 <= len(items) <= 12
        dvs = sorted(dv for _, dv, _, _, _ in items)
        # neighbours at least a vehicle's width plus 0.5 m apart, never overlapping
        assert all(b - a >= 2.55 + 0.5 - 1e-9 for a, b in itertools.pairwise(dvs))
        assert all(abs(du) <= 0.6 and 8 <= length <= 22 for du, _, _, length, _ in items)


def test_rows_give_one_label_per_vehicle_all_parallel() -> None:
    image = np.full((3, 600, 600), 120.0, dtype=np.float32)
    labels = add_generated(
        image, 0.3, np.random.default_rng(4), (LV,), [], 1, options=Opt(vehicle_rows=1.0)
    )
    assert len(labels) >= 2 and all(c is LV for c, _ in labels)
    assert len({round(b.angle_deg % 180, 3) for _, b in labels}) == 1


def test_no_rows_draws_what_earlier_versions_drew() -> None:
    def draw(**kw: float) -> tuple[list[tuple[float, float, float]], np.ndarray]:
        image = np.full((3, 300, 300), 120.0, dtype=np.float32)
        labels = add_generated(
            image, 0.3, np.random.default_rng(8), (LV,), [], 3, options=Opt(**kw)
        )
        return [(b.cx, b.cy, b.length_px) for _, b in labels], image

    (a, img_a), (b, img_b) = draw(), draw(vehicle_rows=0.0)
    assert a == b and np.array_equal(img_a, img_b)
    c, _ = draw(vehicle_rows=1.0)
    assert c != a


def test_a_mooring_has_boats_clear_of_the_pier_and_of_each_other() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        (water, pier), boats = mooring(rng)
        assert boats and water.width_m > pier.width_m and water.length_m >= pier.length_m - 4
        for du, dv, _, parts in boats:
            hull = parts[0]
            assert 6 <= sum(p.length_m for p in parts[:4]) <= 16 + 1e-9
            # every boat lies beside the pier, in the water
            assert abs(dv) >= pier.width_m / 2 + hull.width_m / 2 - 1e-9
            assert abs(dv) < water.width_m / 2 and abs(du) < water.length_m / 2


def test_moorings_are_drawn_unlabelled_and_off_labelled_objects() -> None:
    car = OrientedBox(150.0, 150.0, 15.0, 6.0, 0.0)
    drew = 0
    for seed in range(12):
        image = np.full((3, 300, 300), 120.0, dtype=np.float32)
        occupied = [car]
        labels = add_generated(
            image, 0.3, np.random.default_rng(seed), (LV,), occupied, 0, options=Opt(moorings=1.0)
        )
        assert labels == []
        assert np.allclose(image[:, 147:153, 143:157], 120.0)  # the labelled car is untouched
        if (image < 60).mean() > 0.05:  # dark water
            drew += 1
            assert len(occupied) == 2  # the water, so nothing generated lands on it
    assert drew >= 6


def test_no_moorings_draws_what_earlier_versions_drew() -> None:
    def draw(**kw: float) -> np.ndarray:
        image = np.full((3, 300, 300), 120.0, dtype=np.float32)
        add_generated(image, 0.3, np.random.default_rng(8), (LV,), [], 3, options=Opt(**kw))
        return image

    assert np.array_equal(draw(), draw(moorings=0.0))
    assert not np.array_equal(draw(), draw(moorings=1.0))


def test_quay_vehicles_are_labelled_beside_the_water() -> None:
    found = 0
    for seed in range(16):
        image = np.full((3, 400, 400), 120.0, dtype=np.float32)
        occupied: list[OrientedBox] = []
        labels = add_generated(
            image,
            0.3,
            np.random.default_rng(seed),
            (LV,),
            occupied,
            0,
            options=Opt(moorings=1.0, quay_vehicles=1.0),
        )
        assert all(cls is LV for cls, _ in labels)
        if not labels:
            continue
        found += len(labels)
        water = shapely.Polygon(occupied[0].corners())
        for _, box in labels:
            truck = shapely.Polygon(box.corners())
            # on the quay: off the water, within a few metres of its edge
            assert truck.intersection(water).area < 0.02 * truck.area
            assert truck.distance(water) < 3.5 / 0.3
    assert found >= 8


def test_no_quay_vehicles_draws_what_moorings_alone_drew() -> None:
    def draw(**kw: float) -> np.ndarray:
        image = np.full((3, 300, 300), 120.0, dtype=np.float32)
        add_generated(
            image, 0.3, np.random.default_rng(5), (LV,), [], 2, options=Opt(moorings=1.0, **kw)
        )
        return image

    assert np.array_equal(draw(), draw(quay_vehicles=0.0))


def test_wide_palette_draws_yellow_vehicles_and_narrow_draws_what_it_drew() -> None:
    def draw(seed: int, **kw: bool) -> np.ndarray:
        image = np.full((3, 300, 300), 120.0, dtype=np.float32)
        add_generated(image, 0.3, np.random.default_rng(seed), (LV,), [], 4, options=Opt(**kw))
        return image

    assert np.array_equal(draw(3), draw(3, wide_palette=False))

    def yellow(image: np.ndarray) -> bool:  # school-bus yellow: red and green high, blue low
        r, g, b = image
        return bool(((r > 200) & (g > 150) & (b < 80)).sum() > 50)

    assert not any(yellow(draw(s)) for s in range(20))
    assert sum(yellow(draw(s, wide_palette=True)) for s in range(20)) >= 3


def test_angled_rows_stand_staggered_along_the_axis() -> None:
    rng = np.random.default_rng(21)
    for _ in range(20):
        items = sorted(large_vehicle_row(rng, angled=1.0), key=lambda item: item[1])
        if len(items) < 3:
            continue
        steps = [(b[0] - a[0]) / (b[1] - a[1]) for a, b in itertools.pairwise(items)]
        # a curb at 35-65 degrees: 0.47-1.43 m along the axis per metre across, less the jitter
        assert abs(float(np.mean(steps))) > 0.3
        assert len({np.sign(s) for s in steps}) == 1


def test_no_angled_rows_draws_what_square_rows_drew() -> None:
    def draw(**kw: float) -> np.ndarray:
        image = np.full((3, 300, 300), 120.0, dtype=np.float32)
        add_generated(
            image, 0.3, np.random.default_rng(6), (LV,), [], 3, options=Opt(vehicle_rows=1.0, **kw)
        )
        return image

    assert np.array_equal(draw(), draw(angled_rows=0.0))
    assert not np.array_equal(draw(), draw(angled_rows=1.0))


def test_generator_options_are_probabilities() -> None:
    with pytest.raises(ValueError, match="moorings"):
        Opt(moorings=1.5)
    with pytest.raises(ValueError, match="angled_rows"):
        Opt(angled_rows=-0.1)


def test_a_training_config_passes_every_generator_option_through() -> None:
    values = {"vehicle_rows": 0.3, "moorings": 0.1, "quay_vehicles": 0.8, "angled_rows": 0.5}
    config = TrainConfig(version="0", out=Path("runs/x"), datasets=[], wide_palette=True, **values)
    options = config.generator_options()
    assert options == Opt(wide_palette=True, **values)
    # every option is a field of the YAML configuration, of the same name
    assert {f.name for f in dataclasses.fields(Opt)} <= set(TrainConfig.model_fields)
