"""Residual shift between two chips of one site grid, by phase correlation with sub-pixel peaks.

Works on gradient magnitude of the grey image (robust to illumination and sensor differences),
over the bounding box of pixels valid in both chips, with a Hann window. The confidence is
1 - (second peak / first peak) of the correlation surface, second peak taken outside 2 px of the
first: near 1 for one clear match, near 0 when the surface has several similar peaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

MIN_OVERLAP_PX = 64 * 64
MAX_SIDE_PX = 2048


@dataclass(frozen=True)
class ShiftEstimate:
    """(dx, dy): how far the target's content sits right/down of the reference's, in pixels."""

    dx_px: float
    dy_px: float
    confidence: float
    accepted: bool
    reason: str


def _grey(data: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    grey: npt.NDArray[np.float64] = np.asarray(
        data[: min(3, data.shape[0])], dtype=np.float64
    ).mean(axis=0)
    return grey


def _gradient(img: npt.NDArray[np.float64], ok: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    fill = float(img[ok].mean()) if ok.any() else 0.0
    img = np.where(ok, img, fill)
    gy, gx = np.gradient(img)
    g: npt.NDArray[np.float64] = np.hypot(gx, gy)
    g[~ok] = 0.0
    return g


def _subpixel(c: npt.NDArray[np.float64], r: int, col: int) -> tuple[float, float]:
    h, w = c.shape

    def fit(m1: float, m0: float, p1: float) -> float:
        den = m1 - 2 * m0 + p1
        return 0.0 if den == 0 else 0.5 * (m1 - p1) / den

    dy = fit(c[(r - 1) % h, col], c[r, col], c[(r + 1) % h, col])
    dx = fit(c[r, (col - 1) % w], c[r, col], c[r, (col + 1) % w])
    return dx, dy


def measure_shift(
    reference: npt.NDArray[Any],
    ref_valid: npt.NDArray[np.bool_],
    target: npt.NDArray[Any],
    tgt_valid: npt.NDArray[np.bool_],
    min_confidence: float = 0.3,
    max_shift_px: float = 32.0,
) -> ShiftEstimate:
    """Measure the shift of `target` against `reference` (both (band, row, col) on one grid).

    Returns an estimate that is `accepted` only when the overlap is large enough, the
    confidence reaches `min_confidence` and the shift is within `max_shift_px`; otherwise
    `reason` says why it was refused.
    """
    both = ref_valid & tgt_valid
    if int(both.sum()) < MIN_OVERLAP_PX:
        return ShiftEstimate(
            0.0, 0.0, 0.0, False, f"overlap of {int(both.sum())} px is under {MIN_OVERLAP_PX} px"
        )
    rows, cols = np.nonzero(both)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    if r1 - r0 > MAX_SIDE_PX:
        mid = (r0 + r1) // 2
        r0, r1 = mid - MAX_SIDE_PX // 2, mid + MAX_SIDE_PX // 2
    if c1 - c0 > MAX_SIDE_PX:
        mid = (c0 + c1) // 2
        c0, c1 = mid - MAX_SIDE_PX // 2, mid + MAX_SIDE_PX // 2
    ok = both[r0:r1, c0:c1]
    a = _gradient(_grey(reference[:, r0:r1, c0:c1]), ok)
    b = _gradient(_grey(target[:, r0:r1, c0:c1]), ok)
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa = np.fft.fft2((a - a[ok].mean()) * win)
    fb = np.fft.fft2((b - b[ok].mean()) * win)
    cross = fb * np.conj(fa)
    cross /= np.maximum(np.abs(cross), 1e-12)
    corr = np.real(np.fft.ifft2(cross))
    r, c = np.unravel_index(int(np.argmax(corr)), corr.shape)
    peak = float(corr[r, c])
    h, w = corr.shape
    sx, sy = _subpixel(corr, int(r), int(c))
    dy = (r if r <= h // 2 else r - h) + sy
    dx = (c if c <= w // 2 else c - w) + sx
    masked = corr.copy()
    rr = (np.arange(-2, 3) + r) % h
    cc = (np.arange(-2, 3) + c) % w
    masked[np.ix_(rr, cc)] = -np.inf
    second = float(masked.max())
    confidence = float(np.clip(1.0 - max(second, 0.0) / peak, 0.0, 1.0)) if peak > 0 else 0.0
    dx, dy = float(dx), float(dy)
    if confidence < min_confidence:
        return ShiftEstimate(
            dx,
            dy,
            confidence,
            False,
            f"confidence {confidence:.2f} < {min_confidence:.2f}: no single clear match",
        )
    if max(abs(dx), abs(dy)) > max_shift_px:
        return ShiftEstimate(
            dx, dy, confidence, False, f"shift ({dx:.1f}, {dy:.1f}) px exceeds {max_shift_px:g} px"
        )
    return ShiftEstimate(dx, dy, confidence, True, "ok")
