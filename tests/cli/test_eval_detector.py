"""`sitewatch eval-detector` and `sitewatch models show` with a registered YOLO-layout model whose
answer is known: one car exactly where the held-out frame's label says, one false truck."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.detect.fakes import yolo_graph


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    from PIL import Image

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    pixels = (np.random.default_rng(0).random((128, 128, 3)) * 200).astype(np.uint8)
    for name in ("placeA_1", "placeB_1"):
        Image.fromarray(pixels).save(data / "images" / f"{name}.png")
        # a car of 12 x 6 px centred at (40, 50)
        (data / "labels" / f"{name}.txt").write_text(
            f"0 {40 / 128:.6f} {50 / 128:.6f} {12 / 128:.6f} {6 / 128:.6f}\n"
        )
    (data / "names.txt").write_text("car\ntruck\n")
    config = tmp_path / "train.yaml"
    config.write_text(
        """version: "0"
out: run
datasets:
  - name: toy
    format: yolo
    images: data/images
    labels: data/labels
    names: data/names.txt
    classes: {car: small_vehicle, truck: large_vehicle}
    gsd_m: 0.3
    val_pattern: "^placeB"
    licence: test
"""
    )
    cand = np.array([(40, 50, 12, 6, 0.9, 0.0), (100, 100, 30, 6, 0.0, 0.7)], dtype=np.float32).T
    yolo_graph(tmp_path / "m.onnx", cand, 128)
    reg = tmp_path / "m.yaml"
    reg.write_text(
        "model: m.onnx\nlayout: yolo-detect\ninput_px: 128\ngsd_m: [0.25, 0.6]\nnum_classes: 2\n"
        "classes: {0: small_vehicle, 1: large_vehicle}\nthresholds: {small_vehicle: 0.5, large_vehicle: 0.5}\n"
    )
    return config, reg


def test_eval_detector_reports_known_figures(cli: Callable[..., Any], tmp_path: Path) -> None:
    config, reg = _setup(tmp_path)
    out = tmp_path / "results"
    r = cli(
        "eval-detector",
        "--model",
        str(reg),
        "--config",
        str(config),
        "--gsd",
        "0.3",
        "--no-generated",
        "--out",
        str(out),
    )
    assert r.code == 0, r.err
    doc = json.loads((out / "eval.json").read_text())
    assert doc["split"]["validation_images"] == ["placeB_1.png"]
    sv = doc["results"]["real 0.3 m"]["small_vehicle"]
    assert (sv["objects"], sv["AP50"], sv["precision"], sv["recall"], sv["count_MAPE"]) == (
        1,
        1.0,
        1.0,
        1.0,
        0.0,
    )
    lv = doc["results"]["real 0.3 m"].get("large_vehicle")
    assert lv is None  # no truck in the truth: no AP, but the false truck is not hidden either
    assert (out / "pr_curves.png").stat().st_size > 1000
    assert sv["AP50_interval"] == [1.0, 1.0]  # one image, found: every resample finds it
    assert (
        "| real 0.3 m | small_vehicle | 1 | 1 | 1.000 | 1.00-1.00 |"
        in (out / "eval.md").read_text()
    )


def test_models_show_prints_the_spec(cli: Callable[..., Any], tmp_path: Path) -> None:
    _, reg = _setup(tmp_path)
    r = cli("models", "show", str(reg))
    assert r.code == 0, r.err
    spec = json.loads(r.out)
    assert spec["layout"] == "yolo-detect" and spec["classes"] == ["small_vehicle", "large_vehicle"]
    assert spec["gsd_m"] == [0.25, 0.6] and len(spec["sha256"]) == 64


def test_eval_detector_scores_generated_objects_alone(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    config, reg = _setup(tmp_path)
    # a real truck in the held-out frame, where the model's false truck lies (100, 100): on the
    # generated scenes it is a hit in the mixed row and neither hit nor false alarm once ignored
    (tmp_path / "data" / "labels" / "placeB_1.txt").write_text(
        f"0 {40 / 128:.6f} {50 / 128:.6f} {12 / 128:.6f} {6 / 128:.6f}\n"
        f"1 {100 / 128:.6f} {100 / 128:.6f} {30 / 128:.6f} {6 / 128:.6f}\n"
    )
    out = tmp_path / "results"
    r = cli(
        "eval-detector", "--model", str(reg), "--config", str(config), "--gsd", "0.3", "--out",
        str(out),
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = json.loads((out / "eval.json").read_text())
    mixed = doc["results"]["generated 0.3 m"]["large_vehicle"]
    alone = doc["results"]["generated 0.3 m, real ignored"]
    assert set(alone) == {"large_vehicle"}  # only the generated classes with real objects
    assert alone["large_vehicle"]["objects"] == mixed["objects"] - 1
    assert doc["results"]["real 0.3 m"]["large_vehicle"]["AP50"] == 1.0
    assert "real ignored" in (out / "eval.md").read_text()
    assert "generated_draws" not in doc
    # three draws of generated objects pooled: three times the scenes, the real rows unchanged
    pooled = tmp_path / "pooled"
    r = cli(
        "eval-detector", "--model", str(reg), "--config", str(config), "--gsd", "0.3", "--out",
        str(pooled), "--draws", "3",
    )  # fmt: skip
    assert r.code == 0, r.err
    three = json.loads((pooled / "eval.json").read_text())
    assert three["generated_draws"] == 3
    one, many = doc["results"]["generated 0.3 m"], three["results"]["generated 0.3 m"]
    assert many["large_vehicle"]["images"] == 3 * one["large_vehicle"]["images"]
    assert many["large_vehicle"]["objects"] > one["large_vehicle"]["objects"]
    assert three["results"]["real 0.3 m"] == doc["results"]["real 0.3 m"]
    assert "--draws 3" in (pooled / "eval.md").read_text()
