"""The ONNX change-model adapter: loading checks, GSD range, resampling and tiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sitewatch.detect.changenet import TILE_PX, OnnxChangeModel
from sitewatch.errors import InputError, ModelError
from tests.detect.fakes import CHANGE_META, change_graph


def _pair(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    before = rng.uniform(60, 120, (3, h, w)).astype(np.float32)
    after = before.copy()
    truth = np.zeros((h, w), dtype=bool)
    truth[h // 3 : h // 3 + 40, w // 2 : w // 2 + 50] = True
    after[:, truth] += 80
    return before, after, truth


def test_probability_is_whole_across_tiles_and_odd_sizes(tmp_path: Path) -> None:
    model = OnnxChangeModel(change_graph(tmp_path / "c.onnx", CHANGE_META))
    h, w = TILE_PX + 203, TILE_PX + 77  # several overlapping tiles, not multiples of 16
    before, after, truth = _pair(h, w)
    prob = model.probability(before, after, 0.5)
    assert prob.shape == (h, w)
    assert ((prob > model.threshold) == truth).all()


def test_imagery_is_read_at_the_working_gsd_and_returned_on_its_grid(tmp_path: Path) -> None:
    model = OnnxChangeModel(change_graph(tmp_path / "c.onnx", CHANGE_META))
    before, after, truth = _pair(300, 260)
    prob = model.probability(before, after, 0.8)  # coarser than 0.5 m: read 1.6 times finer
    assert prob.shape == (300, 260)
    inner = truth.copy()
    inner[:, :] = False
    inner[100 + 2 : 140 - 2, 130 + 2 : 180 - 2] = True
    assert (prob[inner] > 0.5).all()
    assert (prob[~np.pad(truth, 3)[3:-3, 3:-3] & ~truth] < 0.5).mean() > 0.99


def test_gsd_outside_the_range_is_refused_unless_forced(tmp_path: Path) -> None:
    model = OnnxChangeModel(change_graph(tmp_path / "c.onnx", CHANGE_META))
    before, after, _ = _pair(64, 64)
    assert not model.accepts(10.0)
    with pytest.raises(InputError, match=r"GSD 10 m is outside the change model's range 0.3-1 m"):
        model.probability(before, after, 10.0)
    assert model.probability(before, after, 10.0, force=True).shape == (64, 64)


def test_bad_model_files_are_refused_naming_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match="not an ONNX model"):
        OnnxChangeModel(bad)
    with pytest.raises(ModelError, match="no sitewatch-change metadata"):
        OnnxChangeModel(change_graph(tmp_path / "plain.onnx"))
    with pytest.raises(ModelError, match=r"output \(1, 2, 32, 32\) .* expected \(1, 1, 32, 32\)"):
        OnnxChangeModel(change_graph(tmp_path / "two.onnx", CHANGE_META, out_channels=2))
    with pytest.raises(ModelError, match="bad sitewatch-change metadata"):
        OnnxChangeModel(change_graph(tmp_path / "meta.onnx", '{"model_id": "x"}'))
