"""Label loaders (YOLO, YOLO-OBB, DOTA, COCO, xView) onto our classes, GSD from car sizes, and
splits by place or sequence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sitewatch.core.models import ObjectClass
from sitewatch.detect.taxonomy import DOTA, KIT, XVIEW, class_map
from sitewatch.errors import ConfigError, InputError
from sitewatch.train.labels import (
    estimate_gsd_from_cars,
    load_coco,
    load_dota,
    load_xview,
    load_yolo,
    split_by_pattern,
    with_estimated_gsd,
)
from tests.conftest import SHARED_DATA, require_shared

SV, LV = ObjectClass.SMALL_VEHICLE, ObjectClass.LARGE_VEHICLE


def _png(path: Path, rows: int = 100, cols: int = 200) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((rows, cols, 3), dtype=np.uint8)).save(path)
    return path


def test_yolo_boxes_scale_to_pixels_and_map_classes(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "a.txt").write_text(
        "0 0.5 0.5 0.1 0.2\n4 0.1 0.1 0.05 0.05\n2 0.2 0.3 0.2 0.1\n"
    )
    [img] = load_yolo(
        tmp_path / "img", tmp_path / "lab", ["car", "truck", "bus", "minibus", "cyclist"], KIT, 0.13
    )
    assert [b.object_class for b in img.boxes] == [SV, LV]  # the cyclist is dropped
    car = img.boxes[0].corners
    assert car.min(axis=0) == pytest.approx([90, 40]) and car.max(axis=0) == pytest.approx(
        [110, 60]
    )
    assert not img.boxes[0].oriented and img.labelled == {SV, LV} and img.gsd_m == 0.13


def test_yolo_obb_and_bad_lines(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "a.txt").write_text("0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n")
    [img] = load_yolo(tmp_path / "img", tmp_path / "lab", ["small-vehicle"], DOTA, obb=True)
    assert img.boxes[0].oriented and img.boxes[0].corners[2] == pytest.approx([40, 20])
    (tmp_path / "lab" / "a.txt").write_text("0 0.1 0.1\n")
    with pytest.raises(InputError, match=r"a.txt:1: expected 9 numbers, got 3"):
        load_yolo(tmp_path / "img", tmp_path / "lab", ["small-vehicle"], DOTA, obb=True)


def test_dota_reads_pixels_classes_and_gsd(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "P1.png")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "P1.txt").write_text(
        "imagesource:GoogleEarth\ngsd:0.146\n"
        "10 10 30 10 30 20 10 20 large-vehicle 0\n5 5 9 5 9 9 5 9 ship 1\n"
    )
    [img] = load_dota(tmp_path / "img", tmp_path / "lab", DOTA)
    assert img.gsd_m == pytest.approx(0.146)
    assert [b.object_class for b in img.boxes] == [LV]
    assert ObjectClass.CRANE in img.labelled  # container-crane is a DOTA class


def test_coco_and_xview(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "x.png")
    coco = {
        "images": [{"id": 1, "file_name": "x.png"}],
        "categories": [{"id": 3, "name": "car"}, {"id": 5, "name": "cyclist"}],
        "annotations": [
            {"image_id": 1, "category_id": 3, "bbox": [10, 20, 8, 4]},
            {"image_id": 1, "category_id": 5, "bbox": [50, 20, 2, 2]},
        ],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    [img] = load_coco(tmp_path / "coco.json", tmp_path / "img", KIT)
    assert len(img.boxes) == 1 and img.boxes[0].corners[2] == pytest.approx([18, 24])
    feats = [
        {"properties": {"image_id": "x.png", "type_id": t, "bounds_imcoords": "1,2,11,6"}}
        for t in (18, 54, 73, 91)
    ]
    (tmp_path / "xview.geojson").write_text(json.dumps({"features": feats}))
    [img] = load_xview(tmp_path / "xview.geojson", tmp_path / "img")
    assert [b.object_class for b in img.boxes] == [SV, ObjectClass.CRANE, ObjectClass.CONTAINER]
    with pytest.raises(InputError, match="not a COCO"):
        load_coco(tmp_path / "xview.geojson", tmp_path / "img", KIT)


def test_xview_table_covers_all_60_classes() -> None:
    lines = SHARED_DATA / "xview_meta" / "xview_class_labels.txt"
    if lines.exists():
        ids = {int(line.split(":")[0]) for line in lines.read_text().splitlines() if line}
        assert ids == set(XVIEW)
    assert len(XVIEW) == 60


def test_class_map_errors() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        class_map("imagenet")
    with pytest.raises(ConfigError, match="'tank' is not a sitewatch class"):
        class_map({"t72": "tank"})


def test_gsd_estimate_uses_elongated_cars_only(tmp_path: Path) -> None:
    from sitewatch.train.labels import LabelledBox, LabelledImage

    def box(length: float, width: float) -> LabelledBox:
        return LabelledBox(
            SV, np.array([[0, 0], [length, 0], [length, width], [0, width]], float), False
        )

    boxes = tuple([box(90, 36)] * 6 + [box(120, 110)] * 10)  # diagonal cars: square-ish boxes
    img = LabelledImage(tmp_path / "a.png", boxes, None, "t", frozenset({SV}))
    assert estimate_gsd_from_cars([img]) == pytest.approx(4.5 / 90)
    assert (
        estimate_gsd_from_cars(
            [LabelledImage(tmp_path / "a.png", boxes[6:], None, "t", frozenset())]
        )
        is None
    )


def test_gsd_is_estimated_frame_by_frame_with_a_pooled_fallback(tmp_path: Path) -> None:
    from sitewatch.train.labels import LabelledBox, LabelledImage

    def frame(name: str, car_px: float, cars: int, gsd: float | None = None) -> LabelledImage:
        corners = np.array([[0, 0], [car_px, 0], [car_px, car_px / 2.5], [0, car_px / 2.5]])
        boxes = tuple(LabelledBox(SV, corners.astype(float), False) for _ in range(cars))
        return LabelledImage(tmp_path / f"{name}.png", boxes, gsd, "t", frozenset({SV}))

    low, high = frame("low", 90, 6), frame("high", 60, 6)  # the same cars from two altitudes
    few, known = frame("few", 30, 2), frame("known", 45, 9, gsd=0.2)
    out, estimate = with_estimated_gsd([low, high, few, known])
    gsds = {i.image_path.stem: i.gsd_m for i in out}
    assert gsds["low"] == pytest.approx(4.5 / 90) and gsds["high"] == pytest.approx(4.5 / 60)
    pooled = 4.5 / 60  # median of the unknown frames' 14 cars (2 of 30 px, 6 of 60, 6 of 90)
    assert gsds["few"] == pytest.approx(pooled) and gsds["known"] == 0.2
    assert estimate is not None and (estimate.own, estimate.frames) == (2, 3)
    assert estimate.low_m == pytest.approx(4.5 / 90) and estimate.high_m == pytest.approx(4.5 / 60)
    _, none = with_estimated_gsd([few])
    assert none is None


@pytest.mark.real_data
def test_shared_vehicle_sets_load_with_their_published_counts() -> None:
    kit = require_shared(SHARED_DATA / "kit_ais_aerial_cars")
    images = load_yolo(kit / "images", kit / "labels", kit / "aerial.names", class_map("kit"), 0.13)
    assert len(images) == 40
    minsk = require_shared(SHARED_DATA / "minsk_drone_vehicles")
    m = load_yolo(minsk / "images", minsk / "labels", minsk / "aerial.names", class_map("minsk"))
    assert sum(len(i.boxes) for i in m) == 920  # car 784, bus 68, minibus 63, truck 5
    gsd = estimate_gsd_from_cars(m)
    assert gsd is not None and 0.03 <= gsd <= 0.10  # the README says 3-10 cm
    # flights at different altitudes: sequence DJI_0762 is coarser than DJI_0005 by over 20%
    sequence = {i.image_path.stem: i.gsd_m for i in with_estimated_gsd(m)[0]}
    coarse = np.median([g for k, g in sequence.items() if k.startswith("DJI_0762")])
    fine = np.median([g for k, g in sequence.items() if k.startswith("DJI_0005")])
    assert coarse > 1.2 * fine
    train, val = split_by_pattern(images, r"MOS(8[89]|9[0-3])$", r"MOS87$")
    assert len(val) == 12 and len(train) == 26  # both crops of 6 places; MOS87 dropped
    assert not {i.group[-5:] for i in train} & {i.group[-5:] for i in val}
