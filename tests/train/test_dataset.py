"""Training samples at the working GSD: crops of coarser levels interpolated up, labels moved with
them. Numpy only (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sitewatch.core.models import ObjectClass
from sitewatch.train.dataset import SampleSource
from sitewatch.train.labels import load_yolo


def _frame(root: Path) -> Path:
    """One 0.3 m frame of 400 x 400 px with bright 14 x 6 px cars on a textured ground."""
    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    img = (rng.random((400, 400, 3)) * 40 + 60).astype(np.uint8)
    lines = []
    for r in range(20, 380, 40):
        for c in range(20, 380, 60):
            img[r : r + 6, c : c + 14] = 240
            lines.append(f"0 {(c + 7) / 400} {(r + 3) / 400} {14 / 400} {6 / 400}")
    Image.fromarray(img).save(root / "images" / "f.png")
    (root / "labels" / "f.txt").write_text("\n".join(lines) + "\n")
    return root


def test_crops_of_a_coarser_level_come_at_the_working_gsd_with_their_labels(
    tmp_path: Path,
) -> None:
    root = _frame(tmp_path)
    frames = load_yolo(
        root / "images", root / "labels", ["car"], {"car": ObjectClass.SMALL_VEHICLE}, 0.3
    )
    source = SampleSource(frames, [], [0.6], 64, 0.0, seed=3, work_gsd_m=0.3)
    native = SampleSource(frames, [], [0.6], 64, 0.0, seed=3)
    seen = 0
    for _ in range(20):
        s = source.sample()
        assert s.image.shape == (3, 64, 64) and s.valid.shape == (64, 64)
        for t in s.targets:
            # a 4.2 x 1.8 m car stays 14 x 6 px: cut at 0.6 m (7 x 3 px), then read at 0.3 m
            assert abs(t.box.length_px - 14) < 1.5 and abs(t.box.width_px - 6) < 1.5
            r, c = int(t.box.cy), int(t.box.cx)
            if 1 <= r < 63 and 1 <= c < 63:
                assert s.image[:, r, c].mean() > 150  # the label sits on the bright car
                seen += 1
    assert seen > 10
    # without a working GSD the same level gives 0.6 m crops: cars half the size
    t = next(t for _ in range(20) for t in native.sample().targets)
    assert abs(t.box.length_px - 7) < 1.0
