"""The committed default model on real held-out imagery it never saw in training.

A KIT frame of a held-out place (MOS90), resampled to 0.3 m as in the evaluation, and a whole
NAIP Joplin tile (0.6 m, georeferenced) through `detect_raster`. The bounds are loose: this test
checks that the shipped model and its pipeline work; the measured quality is in
benchmarks/results/detector/.
"""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.cli.detect import DEFAULT_FP32_MODEL, DEFAULT_MODEL, REPO_MODELS
from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions, detect_array
from sitewatch.detect.taxonomy import class_map
from sitewatch.pipeline.detect import detect_raster, to_map
from sitewatch.train.evaluate import real_eval_set
from sitewatch.train.labels import load_yolo
from tests.conftest import JOPLIN, SHARED_DATA, require_shared

pytestmark = pytest.mark.real_data


@pytest.mark.parametrize("name", [DEFAULT_FP32_MODEL, DEFAULT_MODEL])
def test_default_model_counts_cars_of_a_held_out_place(name: str) -> None:
    kit = require_shared(SHARED_DATA / "kit_ais_aerial_cars")
    images = load_yolo(kit / "images", kit / "labels", kit / "aerial.names", class_map("kit"), 0.13)
    [frame] = [i for i in images if i.image_path.stem == "MOS90"]
    [item] = real_eval_set([frame], 0.3)
    truth = sum(1 for t in item.targets if t.object_class is ObjectClass.SMALL_VEHICLE)
    detector = load_detector(REPO_MODELS / name)
    result = detect_array(item.image, detector, DetectOptions(), pixel_m=item.gsd_m)
    found = sum(1 for d in result.detections if d.object_class is ObjectClass.SMALL_VEHICLE)
    assert truth > 20
    assert abs(found - truth) <= 0.35 * truth, (found, truth)


def test_default_model_on_a_georeferenced_naip_tile() -> None:
    tile = require_shared(JOPLIN / "pre") / "tile_1361-10160.tif"
    detector = load_detector(REPO_MODELS / DEFAULT_MODEL)
    dset = detect_raster(tile, 0.6, detector, DetectOptions())
    mapped = to_map(dset)
    assert dset.crs is not None
    assert len(mapped.native) == len(mapped.wgs84) == len(dset.detections)
    lon, lat = mapped.lon, mapped.lat
    if len(lon):  # Joplin, Missouri
        assert ((lon > -94.6) & (lon < -94.4) & (lat > 37.0) & (lat < 37.2)).all()
    # 0.6 m NAIP is read interpolated up to the model's working GSD of 0.3 m
    assert dset.tiles_run >= 1 and dset.params["read_scale"] == pytest.approx(0.5)
    assert dset.transform is not None and dset.transform.a == pytest.approx(0.3)


def test_batch_size_changes_no_detection() -> None:
    """The batch size is left out of a detection set's parameters (and id): it must not matter."""
    kit = require_shared(SHARED_DATA / "kit_ais_aerial_cars")
    images = load_yolo(kit / "images", kit / "labels", kit / "aerial.names", class_map("kit"), 0.13)
    [frame] = [i for i in images if i.image_path.stem == "MOS90"]
    [item] = real_eval_set([frame], 0.3)
    detector = load_detector(REPO_MODELS / DEFAULT_FP32_MODEL)
    # 128 px tiles so that the frame (about 300 x 240 px) makes several tiles and batches of 3
    runs = [
        detect_array(item.image, detector, DetectOptions(tile_px=128, batch=b), pixel_m=item.gsd_m)
        for b in (1, 3)
    ]
    assert runs[0].tiles_run > 3
    one, three = (
        np.array(sorted((d.box.cx, d.box.cy, d.score) for d in r.detections)) for r in runs
    )
    assert len(one) == len(three) > 20
    np.testing.assert_allclose(one, three, atol=1e-4)
