"""Bring-your-own YOLO models (generated ONNX graphs of the detect and OBB layouts), and models
that must be refused when they load."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions, detect_array
from sitewatch.errors import ConfigError, ModelError
from tests.detect.fakes import yolo_graph

NC = 3  # model classes: 0 car -> small_vehicle, 1 truck -> large_vehicle, 2 boat -> ignored


def _registration(tmp_path: Path, model: Path, layout: str, **extra: str) -> Path:
    lines = [
        f"model: {model.name}",
        f"layout: {layout}",
        "input_px: 128",
        "gsd_m: [0.25, 0.6]",
        f"num_classes: {NC}",
        "classes: {0: small_vehicle, 1: large_vehicle, 2: ignore}",
        "thresholds: {small_vehicle: 0.5}",
        *[f"{k}: {v}" for k, v in extra.items()],
    ]
    path = tmp_path / f"{model.stem}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _candidates(oriented: bool) -> np.ndarray:
    # anchors: a confident car, the same car again (weaker), a truck, a weak car, a boat
    cols = [
        (40, 50, 12, 6, 0.9, 0.0, 0.1, 0.3),
        (41, 50, 12, 6, 0.7, 0.0, 0.1, 0.3),
        (90, 90, 6, 30, 0.1, 0.8, 0.0, 0.0),
        (20, 100, 10, 5, 0.2, 0.0, 0.0, 0.0),
        (100, 20, 10, 5, 0.0, 0.0, 0.95, 0.0),
    ]
    arr = np.array(cols, dtype=np.float32).T  # (4 + nc + angle, A)
    return arr if oriented else arr[: 4 + NC]


@pytest.mark.parametrize("layout", ["yolo-detect", "yolo-obb"])
def test_yolo_layouts_decode_map_classes_and_suppress(tmp_path: Path, layout: str) -> None:
    oriented = layout == "yolo-obb"
    model = yolo_graph(tmp_path / f"{layout}.onnx", _candidates(oriented), 128)
    detector = load_detector(_registration(tmp_path, model, layout))
    image = (np.random.default_rng(0).random((3, 128, 128)) * 255).astype(np.uint8)
    result = detect_array(image, detector, DetectOptions(overlap_px=0))
    found = sorted(result.detections, key=lambda d: d.box.cx)
    assert [d.object_class for d in found] == [ObjectClass.SMALL_VEHICLE, ObjectClass.LARGE_VEHICLE]
    car, truck = found
    assert (car.box.cx, car.box.cy, car.box.length_px, car.box.width_px) == (40, 50, 12, 6)
    assert car.box.angle_deg == pytest.approx(math.degrees(0.3) if oriented else 0.0, abs=1e-4)
    assert truck.box.length_px == 30 and truck.box.width_px == 6
    assert truck.box.angle_deg == pytest.approx((math.degrees(0.0) + 90) % 180)
    assert detector.info.layout == layout and len(detector.info.sha256) == 64


@pytest.mark.parametrize("shape", [(200, 170), (100, 90)])
def test_fixed_size_model_gets_short_tiles_padded(tmp_path: Path, shape: tuple[int, int]) -> None:
    """A YOLO export of a fixed 128 px input runs on the shorter last tiles of a 200 x 170 px
    image and on an image smaller than one tile."""
    model = yolo_graph(tmp_path / "fixed.onnx", _candidates(False), 128)
    detector = load_detector(_registration(tmp_path, model, "yolo-detect"))
    assert detector.fixed_hw == (128, 128)
    image = (np.random.default_rng(0).random((3, *shape)) * 255).astype(np.uint8)
    result = detect_array(image, detector, DetectOptions(overlap_px=16))
    assert result.tiles_run == (4 if shape[0] > 128 else 1)
    assert result.detections


def test_model_whose_outputs_do_not_match_its_layout_is_refused(tmp_path: Path) -> None:
    model = yolo_graph(tmp_path / "m.onnx", _candidates(False), 128)
    reg = _registration(tmp_path, model, "yolo-obb")  # the graph has no angle row
    with pytest.raises(
        ModelError,
        match=r"outputs \[\(1, 7, 5\)\] do not match layout yolo-obb: expected \[\(1, 8, anchors\)\]",
    ):
        load_detector(reg)


def test_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelError, match="not an ONNX model"):
        load_detector(bad)
    reg = _registration(tmp_path, bad, "yolo-detect")
    with pytest.raises(ModelError, match="not an ONNX model"):
        load_detector(reg)


def test_onnx_without_sitewatch_metadata_asks_for_a_registration(tmp_path: Path) -> None:
    model = yolo_graph(tmp_path / "plain.onnx", _candidates(False), 128)
    with pytest.raises(ModelError, match="register the model with a YAML"):
        load_detector(model)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("layout", "yolo-seg", "layout"),
        ("classes", "{0: tank}", "not a sitewatch class"),
        ("classes", "{7: small_vehicle}", "indices must lie in 0..num_classes-1"),
        ("gsd_m", "[0.6, 0.3]", "gsd_m"),
        ("work_gsd_m", "0.1", "work_gsd_m 0.1 lies outside the GSD range 0.25-0.6 m"),
        ("colour", "red", "colour"),
    ],
)
def test_bad_registrations_are_refused(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    model = yolo_graph(tmp_path / "m.onnx", _candidates(False), 128)
    reg = _registration(tmp_path, model, "yolo-detect")
    lines = [ln for ln in reg.read_text().splitlines() if not ln.startswith(f"{field}:")]
    reg.write_text("\n".join([*lines, f"{field}: {value}"]) + "\n")
    with pytest.raises(ConfigError, match=message):
        load_detector(reg)


def test_working_gsd_of_a_registration_sets_the_read_scale(tmp_path: Path) -> None:
    model = yolo_graph(tmp_path / "m.onnx", _candidates(False), 128)
    info = load_detector(_registration(tmp_path, model, "yolo-detect", work_gsd_m="0.3")).info
    assert info.work_gsd_m == 0.3
    assert info.read_scale(0.5) == pytest.approx(0.6)  # 0.5 m read interpolated up to 0.3 m
    assert info.read_scale(0.6) == pytest.approx(0.5)
    assert info.read_scale(0.3) == info.read_scale(0.31) == info.read_scale(0.25) == 1.0
    assert info.read_scale(0.1) == pytest.approx(2.5)  # finer than the range: averaged down
    assert info.read_scale(10.0) == 1.0  # coarser than the range (forced): read native
    plain = load_detector(_registration(tmp_path, model, "yolo-detect")).info
    assert plain.work_gsd_m is None and plain.read_scale(0.5) == 1.0


def test_footprint_required_travels_in_the_metadata_and_must_name_mask_classes() -> None:
    from dataclasses import replace

    from sitewatch.detect.spec import spec_from_metadata
    from sitewatch.train.export import default_spec

    crane = (ObjectClass.CRANE,)
    spec = default_spec(Path("m.onnx"), "m", (0.25, 0.6), {}, mask_classes=crane)
    required = replace(spec, footprint_required=crane)
    assert spec_from_metadata(Path("m.onnx"), required.to_metadata()).footprint_required == crane
    assert spec_from_metadata(Path("m.onnx"), spec.to_metadata()).footprint_required == ()
    unmasked = replace(required, mask_classes=())
    with pytest.raises(ModelError, match=r"footprint_required \['crane'\] names classes without"):
        spec_from_metadata(Path("m.onnx"), unmasked.to_metadata())


def test_footprint_axis_travels_in_the_metadata_and_leaves_tiling_to_the_centre_rule() -> None:
    from dataclasses import replace

    from sitewatch.detect.spec import spec_from_metadata
    from sitewatch.train.export import default_spec

    masked = (ObjectClass.CRANE, ObjectClass.LARGE_VEHICLE)
    lv = (ObjectClass.LARGE_VEHICLE,)
    spec = default_spec(Path("m.onnx"), "m", (0.25, 0.6), {}, mask_classes=masked)
    axis = replace(spec, footprint_axis=lv)
    read = spec_from_metadata(Path("m.onnx"), axis.to_metadata())
    assert (
        read.footprint_axis == lv
        and spec_from_metadata(Path("m.onnx"), spec.to_metadata()).footprint_axis == ()
    )
    # only footprint-rectangle classes are joined across tile borders
    assert read.to_info("0" * 64).footprint_classes == (ObjectClass.CRANE,)
    assert spec.to_info("0" * 64).footprint_classes == masked
    with pytest.raises(ModelError, match=r"footprint_axis \['large_vehicle'\] names classes"):
        spec_from_metadata(Path("m.onnx"), replace(axis, mask_classes=()).to_metadata())


def test_min_length_travels_in_the_metadata_and_is_checked() -> None:
    from dataclasses import replace

    from sitewatch.detect.spec import spec_from_metadata
    from sitewatch.train.export import default_spec

    spec = default_spec(Path("m.onnx"), "m", (0.25, 0.6), {}, min_length_m={ObjectClass.CRANE: 8})
    read = spec_from_metadata(Path("m.onnx"), spec.to_metadata())
    assert read.to_info("0" * 64).min_length_m == {ObjectClass.CRANE: 8.0}
    plain = replace(spec, min_length_m={})
    assert spec_from_metadata(Path("m.onnx"), plain.to_metadata()).min_length_m == {}
    bad = replace(spec, min_length_m={ObjectClass.CRANE: -1.0})
    with pytest.raises(ModelError, match=r"min_length_m of crane: -1.0 is not a positive length"):
        spec_from_metadata(Path("m.onnx"), bad.to_metadata())
