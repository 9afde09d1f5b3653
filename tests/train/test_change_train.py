"""The change model's generated pairs and `sitewatch train-change`: a few CPU steps, resume,
an ONNX export the runtime adapter loads, and a card. Needs the `train` extra (torch)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyproj import Transformer

from sitewatch.detect.changenet import OnnxChangeModel
from sitewatch.train.change_pairs import FootprintTile, PairSource

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")

ORIGIN = (366700.0, 4104400.0)  # UTM 15N, metres
RES = 0.6


def _houses(size: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    rng = np.random.default_rng(seed)
    image = (rng.random((3, size, size)) * 40 + 70).astype(np.uint8)
    mask = np.zeros((size, size), dtype=bool)
    boxes = []
    for r in range(10, size - 30, 40):
        for c in range(10, size - 30, 40):
            if rng.random() < 0.6:
                image[:, r : r + 18, c : c + 24] = 210
                mask[r : r + 18, c : c + 24] = True
                boxes.append((r, c, r + 18, c + 24))
    return image, mask, boxes


def test_generated_pairs_label_what_was_changed() -> None:
    image, mask, _ = _houses(256, 0)
    source = PairSource([FootprintTile("t", image, mask, RES)], 96, (0.5, 0.7), seed=1)
    seen = set()
    for _ in range(60):
        p = source.sample()
        seen.add(p.kind)
        assert p.before.shape == p.after.shape == (3, 96, 96)
        assert p.change.shape == (96, 96)
        if p.kind == "none":
            assert not p.change.any()
        elif p.kind == "construction":
            assert not (p.change & ~p.after_buildings).any()  # only removed buildings changed
        elif p.kind == "demolition":
            assert not (p.after_buildings & p.change).any()
    assert seen == {"construction", "demolition", "unrelated", "none"}


def _tile(root: Path, make_tiff: Callable[..., Path], name: str, seed: int) -> Path:
    image, _, boxes = _houses(192, seed)
    to_lonlat = Transformer.from_crs("EPSG:32615", "OGC:CRS84", always_xy=True)
    features = []
    for r0, c0, r1, c1 in boxes:
        ring = [
            to_lonlat.transform(ORIGIN[0] + c * RES, ORIGIN[1] - r * RES)
            for r, c in ((r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0))
        ]
        features.append(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    make_tiff(f"tiles/{name}.tif", origin=ORIGIN, res=RES, size=(192, 192), data=image)
    return root / "footprints.geojson", features  # type: ignore[return-value]


def _config(root: Path, make_tiff: Callable[..., Path], steps: int) -> Path:
    features: list[Any] = []
    for name, seed in (("placeA", 0), ("placeB", 1)):
        _, f = _tile(root, make_tiff, name, seed)
        features += f  # type: ignore[arg-type]
    (root / "footprints.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    path = root / "change.yaml"
    path.write_text(
        f"""version: "0.0.1"
out: run
tiles: tiles
footprints: footprints.geojson
val_pattern: "placeB"
licence: "made by the test."
train_gsd_m: [0.5, 0.7]
crop_px: 64
batch: 2
steps: {steps}
checkpoint_every: 1
workers: 0
"""
    )
    return path


def test_train_change_runs_resumes_and_exports_a_loadable_model(
    cli: Callable[..., Any], tmp_path: Path, make_tiff: Callable[..., Path]
) -> None:
    r = cli("train-change", str(_config(tmp_path, make_tiff, 2)))
    assert r.code == 0, r.err
    assert "held out: placeB" in r.out
    assert "step 2/2" in r.out
    (tmp_path / "change.yaml").write_text(
        (tmp_path / "change.yaml").read_text().replace("steps: 2", "steps: 3")
    )
    r = cli("train-change", str(tmp_path / "change.yaml"))
    assert r.code == 0, r.err
    assert "resumed from" in r.out and "at step 2" in r.out
    model = OnnxChangeModel(tmp_path / "run" / "sitewatch-chg-0.0.1.onnx")
    assert model.model_id == "sitewatch-chg-0.0.1"
    assert model.gsd_range_m == (0.25, 1.0) and model.work_gsd_m == 0.5
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (3, 70, 90)).astype(np.float32)
    prob = model.probability(a, a[:, ::-1, :].copy(), 0.5)
    assert prob.shape == (70, 90) and np.isfinite(prob).all()
    card = (tmp_path / "run" / "sitewatch-chg-0.0.1.md").read_text()
    assert "generated" in card and "made by the test." in card
    assert "| all | 200 |" in card


def test_config_that_holds_out_every_tile_is_refused(
    cli: Callable[..., Any], tmp_path: Path, make_tiff: Callable[..., Path]
) -> None:
    path = _config(tmp_path, make_tiff, 1)
    path.write_text(path.read_text().replace('val_pattern: "placeB"', 'val_pattern: "place"'))
    r = cli("train-change", str(path))
    assert r.code == 2
    assert "holds out every tile" in r.err
