"""The committed change model on a real place it never saw in training: the held-out Joplin NAIP
tile (0.6 m) with its building footprints.

Two pairs made from that tile as training pairs are made: buildings removed from the before date
(construction), and the same crop twice with a different look on each date (no change). The
bounds are loose: this checks that the shipped model and its adapter work on real pixels; the
measured quality on labelled change pairs is in benchmarks/results/change/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sitewatch.change.pixels import change_from_probability
from sitewatch.detect.changenet import OnnxChangeModel
from sitewatch.imagery.footprints import read_with_footprints
from sitewatch.train.change_pairs import FootprintTile, PairSource
from tests.conftest import JOPLIN, require_shared

MODEL = Path(__file__).resolve().parents[2] / "models" / "sitewatch-chg-0.1.0.onnx"

pytestmark = pytest.mark.real_data


def test_default_change_model_finds_new_buildings_and_ignores_a_new_look() -> None:
    require_shared(JOPLIN)
    image, mask, gsd = read_with_footprints(
        JOPLIN / "pre" / "tile_1361-10160.tif", JOPLIN / "joplin_building_footprints.geojson"
    )
    source = PairSource([FootprintTile("held-out", image, mask, gsd)], 512, (0.6, 0.6), seed=7)
    model = OnnxChangeModel(MODEL)
    found = {"construction": [0, 0, 0], "none": [0, 0, 0]}
    while min(v[2] for v in found.values()) < 2:
        p = source.sample()
        if p.kind not in found:
            continue
        prob = model.probability(p.before, p.after, 0.6)
        pred = change_from_probability(prob, np.ones(prob.shape, bool), model.threshold, 8).changed
        f = found[p.kind]
        f[0] += int((pred & p.change).sum())
        f[1] += int(pred.sum()) + int(p.change.sum())
        f[2] += 1
    tp, total, _ = found["construction"]
    assert 2 * tp / total > 0.5, found  # F1 of the removed buildings
    changed, pixels = found["none"][1], 2 * 512 * 512
    assert changed / pixels < 0.02, found
