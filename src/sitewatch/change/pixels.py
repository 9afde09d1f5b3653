"""Pixel change between two aligned images of one place; pure numpy/scipy.

The method, unsupervised, and what each step is for:
1. Per band and per image, robust standardisation over the valid pixels ((x - median) / MAD):
   removes global illumination, exposure and sensor gain/offset differences.
2. Features: the standardised bands, lightly smoothed, plus the local gradient magnitude
   (structure: edges of new roofs and scarring show there even when colours were equalised).
3. Misregistration: the distance of a pixel to the other date is the smallest distance to any
   pixel within `shift_tolerance_px` of it, both ways round (the larger of the two minima), so
   an edge displaced by a pixel or two does not count as change.
4. Season: with a NIR band, pixels vegetated on both dates (NDVI above `vegetation_ndvi`) are
   masked out (their change is mostly phenology); vegetation that is cleared still counts.
5. Decision: a pixel changed where its distance exceeds Otsu's threshold on the image's
   distances (no parameter learned from any data set) and at least `min_distance`; then a
   majority filter and removal of components smaller than `min_area_px`.

Measured on the shared labelled pairs (benchmarks/results/change/eval.md), this unsupervised
test is far below learned change detectors: it finds strong spectral and structural change, and
it cannot tell a new building from a field that changed colour. An Otsu threshold was chosen over
a robust-sigma threshold after comparing both on all three sets (it was better on each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PixelChangeOptions:
    """Parameters of the change test (defaults documented in the module docstring)."""

    shift_tolerance_px: int = 1
    smooth_px: float = 1.0
    min_distance: float = 1.5
    vegetation_ndvi: float = 0.3
    min_area_px: int = 16
    nir_band: int | None = None
    red_band: int = 0

    def to_params(self) -> dict[str, Any]:
        """The parameters as recorded with each change result."""
        return {
            "method": "robust-standardised feature distance, shift-tolerant, Otsu threshold",
            "shift_tolerance_px": self.shift_tolerance_px,
            "smooth_px": self.smooth_px,
            "min_distance": self.min_distance,
            "vegetation_ndvi": self.vegetation_ndvi,
            "min_area_px": self.min_area_px,
            "nir_band": self.nir_band,
        }


@dataclass(frozen=True)
class ChangeMap:
    """The change mask, the per-pixel distance, and the pixels excluded as vegetation."""

    changed: npt.NDArray[np.bool_]
    distance: F32
    vegetation: npt.NDArray[np.bool_]


def _standardise(image: npt.NDArray[Any], valid: npt.NDArray[np.bool_]) -> F32:
    out = np.empty(image.shape, dtype=np.float32)
    for b in range(image.shape[0]):
        band = image[b].astype(np.float32)
        v = band[valid]
        med = float(np.median(v)) if v.size else 0.0
        mad = float(np.median(np.abs(v - med))) * 1.4826 if v.size else 1.0
        out[b] = (band - med) / max(mad, 1e-6)
    return out


def _features(z: F32, smooth_px: float) -> F32:
    feats = [ndimage.gaussian_filter(b, smooth_px) if smooth_px > 0 else b for b in z]
    lum = np.mean(feats, axis=0)
    grad = np.hypot(ndimage.sobel(lum, 0), ndimage.sobel(lum, 1)) / 4.0
    return np.stack([*feats, grad]).astype(np.float32)


def _min_shift_distance(a: F32, b: F32, r: int) -> F32:
    """For every pixel of b, the smallest feature distance to a pixel of a within r pixels."""
    best = np.full(b.shape[1:], np.inf, dtype=np.float32)
    pad = np.pad(a, ((0, 0), (r, r), (r, r)), mode="edge")
    h, w = b.shape[1:]
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            shifted = pad[:, r + dy : r + dy + h, r + dx : r + dx + w]
            d = np.sqrt(((shifted - b) ** 2).sum(axis=0))
            np.minimum(best, d, out=best)
    return best


def otsu_threshold(values: F32, bins: int = 256) -> float:
    """The threshold that best separates `values` into two classes (Otsu 1979)."""
    hist, edges = np.histogram(values, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w = np.cumsum(hist).astype(np.float64)
    m = np.cumsum(hist * centres)
    total_w, total_m = w[-1], m[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_m * w / total_w - m) ** 2 / (w * (total_w - w))
    between[~np.isfinite(between)] = -1.0
    return float(centres[int(np.argmax(between))])


def ndvi(image: npt.NDArray[Any], red_band: int, nir_band: int) -> F32:
    """(NIR - red) / (NIR + red), 0 where both are 0."""
    red = image[red_band].astype(np.float32)
    nir = image[nir_band].astype(np.float32)
    s = nir + red
    return np.where(s > 0, (nir - red) / np.where(s > 0, s, 1), 0).astype(np.float32)


def detect_change(
    before: npt.NDArray[Any],
    after: npt.NDArray[Any],
    valid: npt.NDArray[np.bool_],
    options: PixelChangeOptions = PixelChangeOptions(),
) -> ChangeMap:
    """Changed pixels between two (band, row, col) images on one grid; `valid` where both have data."""
    if before.shape != after.shape:
        raise ValueError(f"images differ in shape: {before.shape} vs {after.shape}")
    fa = _features(_standardise(before, valid), options.smooth_px)
    fb = _features(_standardise(after, valid), options.smooth_px)
    r = options.shift_tolerance_px
    dist = np.maximum(_min_shift_distance(fa, fb, r), _min_shift_distance(fb, fa, r))
    vegetation = np.zeros(valid.shape, dtype=bool)
    if options.nir_band is not None and options.nir_band < before.shape[0]:
        va = ndvi(before, options.red_band, options.nir_band) > options.vegetation_ndvi
        vb = ndvi(after, options.red_band, options.nir_band) > options.vegetation_ndvi
        vegetation = va & vb
    judged = valid & ~vegetation
    d = dist[judged]
    if d.size == 0:
        return ChangeMap(np.zeros(valid.shape, dtype=bool), dist, vegetation)
    threshold = max(otsu_threshold(d), options.min_distance)
    changed = (dist > threshold) & judged
    changed = ndimage.median_filter(changed.astype(np.uint8), size=3).astype(bool) & judged
    return ChangeMap(drop_small(changed, options.min_area_px), dist, vegetation)


def drop_small(changed: npt.NDArray[np.bool_], min_area_px: int) -> npt.NDArray[np.bool_]:
    """`changed` without its connected components smaller than `min_area_px`."""
    if min_area_px <= 1 or not changed.any():
        return changed
    labels, n = ndimage.label(changed)
    sizes = ndimage.sum(changed, labels, index=np.arange(1, n + 1))
    keep = np.zeros(n + 1, dtype=bool)
    keep[1:] = sizes >= min_area_px
    out: npt.NDArray[np.bool_] = keep[labels]
    return out


def change_from_probability(
    probability: F32, valid: npt.NDArray[np.bool_], threshold: float, min_area_px: int
) -> ChangeMap:
    """The change mask of a learned model's probability map: above `threshold`, inside `valid`,
    components of at least `min_area_px` pixels. `distance` carries the probability."""
    changed = drop_small((probability > threshold) & valid, min_area_px)
    return ChangeMap(changed, probability.astype(np.float32), np.zeros(valid.shape, dtype=bool))


def to_byte_range(image: npt.NDArray[Any], valid: npt.NDArray[np.bool_]) -> F32:
    """Three float bands 0-255 for a learned model: the first three bands (one band repeated
    three times; two bands, the first repeated). 8-bit data is kept as it is; other types are
    stretched per band between the 0.5th and 99.5th percentiles of the valid pixels."""
    bands = [min(b, image.shape[0] - 1) if image.shape[0] >= 3 else 0 for b in range(3)]
    out = np.empty((3, *image.shape[1:]), dtype=np.float32)
    for i, b in enumerate(bands):
        band = image[b].astype(np.float32)
        if image.dtype != np.uint8:
            v = band[valid] if valid.any() else band.ravel()
            lo, hi = np.percentile(v, [0.5, 99.5]) if v.size else (0.0, 1.0)
            band = np.clip((band - lo) / max(float(hi - lo), 1e-6), 0, 1) * 255
        out[i] = band
    return out


def pixel_scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 and IoU of pooled pixel counts."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "iou": round(iou, 4),
    }
