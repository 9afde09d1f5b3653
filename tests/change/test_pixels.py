"""Pixel change: a new building is found; illumination, gain, a 1 px shift and seasonal
vegetation are not change."""

from __future__ import annotations

import numpy as np

from sitewatch.change.pixels import PixelChangeOptions, detect_change


def _ground(seed: int = 0, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 120, (1, size, size)).astype(np.float32)
    # some structure: roads and roofs
    base[:, 20:24, :] = 160
    base[:, :, 90:94] = 150
    base[:, 60:75, 10:30] = 40
    img = np.repeat(base, 3, axis=0) + rng.normal(0, 3, (3, size, size))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_a_new_roof_is_change_and_the_rest_is_not() -> None:
    before = _ground()
    after = before.copy()
    after[:, 40:56, 40:64] = 230  # a new bright roof, 16 x 24 px
    valid = np.ones(before.shape[1:], dtype=bool)
    cmap = detect_change(before, after, valid)
    roof = np.zeros_like(valid)
    roof[40:56, 40:64] = True
    assert cmap.changed[roof].mean() > 0.8
    assert cmap.changed[~roof].mean() < 0.01


def test_illumination_gain_and_a_one_pixel_shift_are_not_change() -> None:
    before = _ground()
    after = np.clip(np.roll(before.astype(np.float32) * 1.3 + 12, 1, axis=2), 0, 255).astype(
        np.uint8
    )
    valid = np.ones(before.shape[1:], dtype=bool)
    valid[:, :2] = False
    cmap = detect_change(before, after, valid)
    assert cmap.changed.mean() < 0.01


def test_vegetation_on_both_dates_is_masked_with_nir() -> None:
    before = np.concatenate([_ground(), _ground(1)[:1]])  # RGB + NIR
    after = before.copy()
    field = (slice(80, 120), slice(30, 80))
    before[0][field] = 40
    before[3][field] = 200  # green field: NDVI high
    after[0][field] = 70
    after[1][field] = 150
    after[3][field] = 140  # still vegetated, different phase
    valid = np.ones(before.shape[1:], dtype=bool)
    masked = detect_change(before, after, valid, PixelChangeOptions(nir_band=3, red_band=0))
    assert masked.vegetation[field].all()
    assert not masked.changed[field].any()
    plain = detect_change(before[:3], after[:3], valid)
    assert plain.changed[field].mean() > 0.5  # without NIR the phase change shows


def test_learned_model_input_has_three_byte_bands_from_any_image() -> None:
    from sitewatch.change.pixels import to_byte_range

    valid = np.ones((4, 5), dtype=bool)
    pan = np.arange(20, dtype=np.uint16).reshape(1, 4, 5) * 100
    out = to_byte_range(pan, valid)
    assert out.shape == (3, 4, 5) and (out[0] == out[2]).all()
    assert out.min() == 0 and out.max() == 255  # stretched between the percentiles
    rgbn = np.full((4, 4, 5), 7, dtype=np.uint8)
    rgbn[3] = 200
    assert (to_byte_range(rgbn, valid) == 7).all()  # 8-bit kept; NIR left out
