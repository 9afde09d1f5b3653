"""Training samples at the working GSD: crops of coarser levels interpolated up, labels moved with
them. Numpy only (no torch needed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sitewatch.core.models import ObjectClass
from sitewatch.imagery.pixels import read_frame
from sitewatch.train.dataset import CLASSES, GENERATED_CLASSES, Sample, SampleSource
from sitewatch.train.labels import LabelledImage, load_yolo


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


def test_real_labels_of_a_mask_class_leave_its_footprint_unknown(tmp_path: Path) -> None:
    """A real truck label is an axis-aligned box with no footprint drawn: its cells are not
    taught as 'off any truck', while the footprints of generated trucks are taught."""
    import torch

    from sitewatch.train.loss import build_batch, detection_loss
    from sitewatch.train.model import BOX_CHANNELS

    root = _frame(tmp_path)
    frames = load_yolo(
        root / "images", root / "labels", ["truck"], {"truck": ObjectClass.LARGE_VEHICLE}, 0.3
    )
    lv = ObjectClass.LARGE_VEHICLE
    source = SampleSource(
        frames,
        [],
        [0.3, 0.6],
        64,
        1.0,
        seed=5,
        work_gsd_m=0.3,
        mask_classes=[ObjectClass.CRANE, lv],
    )
    drawn = unknown_cells = 0
    for _ in range(30):
        s = source.sample()
        assert s.masks.shape == (2, 64, 64) and s.unknown is not None
        assert s.unknown.shape == (2, 64, 64) and not s.unknown[0].any()  # no real cranes
        for t in s.targets:
            r, c = int(t.box.cy), int(t.box.cx)
            if t.object_class is lv and not t.oriented and 1 <= r < 63 and 1 <= c < 63:
                assert s.unknown[1, r, c] > 0 and s.masks[1, r, c] == 0
                unknown_cells += 1
            elif t.object_class is lv and t.oriented and 1 <= r < 63 and 1 <= c < 63:
                drawn += int(s.masks[1, r - 1 : r + 2, c - 1 : c + 2].max() > 0.5)
        batch = build_batch([s])
        known = batch["mask_known"][0, 1].numpy()
        if s.unknown[1].any():
            assert known.min() == 0.0
        # the mask loss does not depend on what the targets say on a truck's unknown cells
        heat, box = torch.zeros((1, len(CLASSES), 32, 32)), torch.zeros((1, BOX_CHANNELS, 32, 32))
        logits = torch.full((1, 2, 32, 32), 5.0)
        index = (CLASSES.index(ObjectClass.CRANE), CLASSES.index(lv))
        flipped = dict(batch, masks=torch.where(batch["mask_known"] > 0, batch["masks"], 1.0))
        parts = [detection_loss(heat, box, b, logits, index)[1]["mask"] for b in (batch, flipped)]
        assert parts[0] == parts[1]
    assert unknown_cells > 5 and drawn > 0


def test_warped_points_land_where_their_pixels_go() -> None:
    from sitewatch.train.dataset import warp_crop

    part = np.zeros((3, 120, 120), dtype=np.float32)
    part[:, 30:34, 80:84] = 255.0  # a bright 4 x 4 px square centred at (x, y) = (82, 32)
    for angle, scale in ((0.0, 1.0), (37.0, 1.0), (200.0, 0.8), (95.0, 1.3)):
        crop, valid, to_crop = warp_crop(part, angle, scale, 100)
        (x, y), (fx, fy) = to_crop(np.array([[82.0, 32.0], [10.0, 10.0]]))
        assert crop.shape == (3, 100, 100) and valid[50, 50]
        if 2 <= x < 98 and 2 <= y < 98:
            assert crop[0, int(y), int(x)] > 200, (angle, scale)
        if 0 <= fx < 100 and 0 <= fy < 100:
            assert crop[0, int(fy), int(fx)] < 1.0
    # unturned and unscaled, the crop is the middle of the part
    crop, valid, to_crop = warp_crop(part, 0.0, 1.0, 100)
    np.testing.assert_allclose(to_crop(np.array([[82.0, 32.0]])), [[72.0, 22.0]])
    assert valid.all()


def test_warped_backgrounds_keep_generated_labels_and_leave_real_objects_out(
    tmp_path: Path,
) -> None:
    root = _frame(tmp_path)
    frames = load_yolo(
        root / "images", root / "labels", ["car"], {"car": ObjectClass.SMALL_VEHICLE}, 0.3
    )
    source = SampleSource(frames, [], [0.3], 96, 0.0, seed=4, background_warp=1.0)
    generated = 0
    for _ in range(20):
        s = source.sample()
        assert all(t.oriented for t in s.targets)  # no real (axis-aligned) label is kept
        generated += len(s.targets)
        # the 400 px frame covers every turned 96 px crop (read from 183 px), so the pixels out
        # of the loss are the envelopes of the real cars (one every 40 x 60 px)
        assert 0.02 < (~s.valid).mean() < 0.6
    assert generated > 10
    # with no warp the same source keeps the real labels
    plain = SampleSource(frames, [], [0.3], 96, 0.0, seed=4)
    assert any(not t.oriented for _ in range(5) for t in plain.sample().targets)


def test_generated_weights_shift_the_mix_of_generated_classes(tmp_path: Path) -> None:
    root = _frame(tmp_path)
    frames = load_yolo(
        root / "images", root / "labels", ["car"], {"car": ObjectClass.SMALL_VEHICLE}, 0.3
    )

    def drawn(weights: dict[ObjectClass, int] | None) -> Counter[ObjectClass]:
        source = SampleSource(frames, [], [0.3], 192, 1.0, seed=5, generated_weights=weights)
        return Counter(
            t.object_class for _ in range(80) for t in source.sample().targets if t.oriented
        )

    plain = SampleSource(frames, [], [0.3], 96, 1.0, seed=5)
    assert plain.generated_classes == GENERATED_CLASSES  # equal weights: the earlier stream
    equal, weighted = drawn(None), drawn({ObjectClass.LARGE_VEHICLE: 4})
    share = [c[ObjectClass.LARGE_VEHICLE] / sum(c.values()) for c in (equal, weighted)]
    assert share[1] > 1.8 * share[0], (equal, weighted)
    with pytest.raises(ValueError, match="generated_weights"):
        SampleSource(frames, [], [0.3], 96, 1.0, generated_weights={ObjectClass.CRANE: 0})
    with pytest.raises(ValueError, match="generated_weights"):
        SampleSource(frames, [], [0.3], 96, 1.0, generated_weights={ObjectClass.SMALL_VEHICLE: 2})


def test_colour_jitter_gives_crops_other_palettes_and_keeps_labels(tmp_path: Path) -> None:
    root = _frame(tmp_path)
    frames = load_yolo(
        root / "images", root / "labels", ["car"], {"car": ObjectClass.SMALL_VEHICLE}, 0.3
    )

    def crops(jitter: float) -> list[Sample]:
        source = SampleSource(frames, [], [0.3], 96, 0.0, seed=9, colour_jitter=jitter)
        return [source.sample() for _ in range(40)]

    def saturation(sample: Sample) -> float:
        x = sample.image.astype(np.float32)
        return float(np.abs(x - x.mean(axis=0)).mean())

    plain, jittered = crops(0.0), crops(1.0)
    unchanged = SampleSource(frames, [], [0.3], 96, 0.0, seed=9).sample()
    assert np.array_equal(plain[0].image, unchanged.image)  # 0: the earlier stream
    assert plain[0].targets == jittered[0].targets  # colours only: same crop, same labels
    low = [saturation(s) for s in plain]
    spread = [saturation(s) for s in jittered]
    assert min(spread) < 0.3 * min(low), (min(spread), min(low))  # some crops near grey
    assert np.std(spread) > 1.5 * np.std(low), (np.std(spread), np.std(low))


def test_a_background_with_a_nodata_collar_keeps_it_out_of_the_loss(tmp_path: Path) -> None:
    """A panchromatic uint16 chip whose top 40% is 0 (no data, untagged, as some published
    chips come): with `nodata: 0` the stretch and the loss leave the collar out, and cuts are
    drawn on the data."""
    import rasterio

    rng = np.random.default_rng(2)
    pan = (rng.random((300, 300)) * 800 + 1000).astype(np.uint16)
    pan[:120] = 0
    path = tmp_path / "pan.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=300, height=300, count=1, dtype="uint16"
    ) as ds:
        ds.write(pan, 1)
    pixels, has_data = read_frame(path, nodata=0)
    assert pixels.shape == (3, 300, 300) and not has_data[:120].any() and has_data[120:].all()
    assert pixels[0, 120:].min() < 10 and pixels[0, 120:].max() > 245  # stretched on data only
    assert read_frame(path)[1].all() and read_frame(path)[0][0, 120:].min() > 100

    def source(nodata: float | None, warp: float) -> SampleSource:
        bg = LabelledImage(path, (), 0.3, "pan", frozenset(), "pan", nodata=nodata)
        return SampleSource([], [bg], [0.3], 64, 1.0, seed=6, background_warp=warp)

    collar = source(0, 0.0)
    level = collar.levels[0]
    assert level.valid is not None and not level.valid[:119].any() and level.valid[122:].all()
    for warp in (0.0, 1.0):
        drawn = source(0, warp)
        samples = [drawn.sample() for _ in range(30)]
        for s in samples:
            assert s.valid.mean() > 0.3  # cut at least half on data (turned: a little less)
            for t in s.targets:  # generated objects are kept only where there is data
                assert s.valid[min(63, int(t.box.cy)), min(63, int(t.box.cx))]
        assert any(not s.valid.all() for s in samples)  # and the collar is out of the loss
    assert all(source(None, 0.0).sample().valid.all() for _ in range(10))


def test_a_background_weight_draws_its_crops_that_much_more_often(tmp_path: Path) -> None:
    path = _frame(tmp_path) / "images" / "f.png"

    def share(weight: float) -> float:
        one = LabelledImage(path, (), 0.3, "a", frozenset(), "a")
        other = LabelledImage(path, (), 0.3, "b", frozenset(), "b", weight=weight)
        return float(SampleSource([], [one, other], [0.3], 64, 1.0).weights[1])

    assert share(1.0) == pytest.approx(0.5) and share(3.0) == pytest.approx(0.75)
