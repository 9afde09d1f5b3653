"""Phase correlation: known sub-pixel shifts are found; ambiguous pairs are refused with a reason."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.imagery.coreg import measure_shift


def _scene(n: int = 256, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((n, n))
    for _ in range(60):  # rectangles: roofs and roads
        r, c = rng.integers(0, n - 30, 2)
        h, w = rng.integers(4, 30, 2)
        img[r : r + h, c : c + w] += rng.uniform(20, 120)
    return img


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.fftfreq(img.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(img) * np.exp(-2j * np.pi * (fx * dx + fy * dy))))


@pytest.mark.parametrize(("dx", "dy"), [(0.0, 0.0), (1.5, -0.5), (-3.25, 2.75), (7.0, 4.4)])
def test_known_shift_is_recovered(dx: float, dy: float) -> None:
    ref = _scene()
    tgt = _shift(ref, dx, dy) + np.random.default_rng(2).normal(0, 2, ref.shape)
    ok = np.ones(ref.shape, bool)
    est = measure_shift(ref[None], ok, tgt[None], ok)
    assert est.accepted, est.reason
    assert est.dx_px == pytest.approx(dx, abs=0.3)
    assert est.dy_px == pytest.approx(dy, abs=0.3)


def test_unrelated_images_are_refused() -> None:
    ok = np.ones((256, 256), bool)
    a = np.random.default_rng(1).normal(size=(1, 256, 256))
    b = np.random.default_rng(2).normal(size=(1, 256, 256))
    est = measure_shift(a, ok, b, ok)
    assert not est.accepted
    assert "no single clear match" in est.reason


def test_small_overlap_is_refused() -> None:
    ok = np.zeros((256, 256), bool)
    ok[:10, :10] = True
    est = measure_shift(np.ones((1, 256, 256)), ok, np.ones((1, 256, 256)), ok)
    assert not est.accepted and "overlap of 100 px" in est.reason


def test_too_large_shift_is_refused() -> None:
    ref = _scene()
    ok = np.ones(ref.shape, bool)
    est = measure_shift(ref[None], ok, _shift(ref, 20, 0)[None], ok, max_shift_px=8)
    assert not est.accepted and "exceeds 8 px" in est.reason
