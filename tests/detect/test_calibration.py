"""Score calibration: isotonic fit, storage beside the model, use in expected counts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box

from sitewatch.core.models import (
    Detection,
    ObjectClass,
    OrientedBox,
    QualityThresholds,
    Site,
    Zone,
    ZoneKind,
    ZoneQuality,
)
from sitewatch.detect.calibration import (
    calibrate,
    fit_isotonic,
    read_calibration,
    write_calibration,
)
from sitewatch.detect.onnx import load_spec
from sitewatch.errors import ModelError
from sitewatch.timeseries.observe import DayImage, observe_zones
from tests.detect.fakes import yolo_graph

SV = ObjectClass.SMALL_VEHICLE


def test_isotonic_fit_is_monotone_and_matches_the_hit_rate() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(5000)
    hits = rng.random(5000) < scores**2  # true probability = score squared
    knots = fit_isotonic(scores, hits, max_knots=12)
    probs = [p for _, p in knots]
    assert len(knots) == 12 and probs == sorted(probs)
    for s in (0.3, 0.6, 0.9):
        assert calibrate(s, knots) == pytest.approx(s**2, abs=0.08)
    assert calibrate(0.5, ()) == 0.5  # no calibration: the raw score


def test_calibration_file_beside_the_model_is_read_with_the_spec(tmp_path: Path) -> None:
    cand = np.array([(40, 50, 12, 6, 0.9)], dtype=np.float32).T
    onnx_path = yolo_graph(tmp_path / "m.onnx", cand, 128)
    reg = tmp_path / "m.yaml"
    reg.write_text(
        "model: m.onnx\nlayout: yolo-detect\ninput_px: 128\ngsd_m: [0.3, 0.6]\n"
        "num_classes: 1\nclasses: {0: small_vehicle}\n"
    )
    assert load_spec(reg).calibration == {}
    write_calibration(onnx_path, {SV: ((0.1, 0.0), (0.9, 0.8))}, "test")
    spec = load_spec(reg)
    assert spec.calibration == {SV: ((0.1, 0.0), (0.9, 0.8))}
    assert spec.to_info("0" * 64).calibration[SV][1] == (0.9, 0.8)
    (tmp_path / "m.onnx.calibration.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a calibration file"):
        read_calibration(onnx_path)


def test_expected_count_sums_calibrated_scores() -> None:
    site = Site(
        "s", "S", box(0, 0, 1, 1), zones=(Zone("z", "s", ZoneKind.PARKING, box(0, 0, 1, 1), (SV,)),)
    )
    mask = np.ones((20, 20), dtype=bool)
    dets = [
        Detection(SV, 0.9, OrientedBox(5, 5, 4, 2, 0)),
        Detection(SV, 0.5, OrientedBox(9, 9, 4, 2, 0)),
    ]
    day = DayImage("k", date(2020, 1, 1), ("a",), mask, dets)
    q = [ZoneQuality("a", "s", "z", 1.0, 0.0, 0.0, 0.0, True, "ok")]
    knots = ((0.0, 0.0), (1.0, 0.5))
    [raw] = observe_zones(site, day, {"z": mask}, q, 0.5, QualityThresholds())
    [cal] = observe_zones(
        site, day, {"z": mask}, q, 0.5, QualityThresholds(), lambda c, s: calibrate(s, knots)
    )
    assert raw.count == cal.count == 2
    assert raw.expected_count == pytest.approx(1.4) and cal.expected_count == pytest.approx(0.7)
