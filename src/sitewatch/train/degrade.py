"""Resampling of sharp aerial and drone frames to satellite ground sample distance.

A frame at GSD g_in becomes a frame at g_out by area averaging (each output pixel is the mean of
the input area it covers) followed by a Gaussian point-spread function of `psf_px` output pixels,
both applied as one separable matrix per axis. Optional sensor noise and JPEG-like quantisation
are added by the augmentation step, not here. Pure numpy: evaluation uses it without torch.

`colour_look` is the colour side of another sensor or date (mixing of the bands, gains,
saturation, gamma), shared by the change pairs (`change_pairs.photometric`) and the detector's
colour jitter (`dataset.SampleSource`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@lru_cache(maxsize=64)
def resample_matrix(n_in: int, n_out: int, psf_px: float) -> F32:
    """(n_out, n_in) weights: area average of the covered input, then a Gaussian PSF."""
    s = n_in / n_out
    edges_out = np.arange(n_out + 1, dtype=np.float64) * s
    lo = np.maximum(edges_out[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges_out[1:, None], np.arange(n_in)[None, :] + 1)
    area = np.clip(hi - lo, 0.0, None)
    if s < 1:  # upsampling: linear interpolation instead of nearest
        centres = (np.arange(n_out) + 0.5) * s - 0.5
        area = np.clip(1.0 - np.abs(centres[:, None] - np.arange(n_in)[None, :]), 0.0, None)
    area /= area.sum(axis=1, keepdims=True)
    if psf_px > 0:
        idx = np.arange(n_out)
        g = np.exp(-0.5 * ((idx[:, None] - idx[None, :]) / psf_px) ** 2)
        g /= g.sum(axis=1, keepdims=True)
        area = g @ area
    result: F32 = area.astype(np.float32)
    return result


def resample_to_gsd(
    image: npt.NDArray[np.generic], gsd_in_m: float, gsd_out_m: float, psf_px: float = 0.5
) -> tuple[F32, float, float]:
    """A (bands, rows, cols) image at `gsd_out_m`, as float32 0-255.

    Returns the image and the x and y factors that map input pixel coordinates to output ones.
    """
    _, rows, cols = image.shape
    out_rows = max(1, round(rows * gsd_in_m / gsd_out_m))
    out_cols = max(1, round(cols * gsd_in_m / gsd_out_m))
    ry = resample_matrix(rows, out_rows, psf_px)
    rx = resample_matrix(cols, out_cols, psf_px)
    data = image.astype(np.float32)
    out = np.einsum("ij,bjk,lk->bil", ry, data, rx, optimize=True)
    return np.asarray(out, dtype=np.float32), out_cols / cols, out_rows / rows


def colour_look(
    x: npt.NDArray[np.floating],
    rng: np.random.Generator,
    saturation: tuple[float, float] = (0.6, 1.4),
) -> npt.NDArray[np.float64]:
    """Another sensor's colours for a (3, rows, cols) image in 0-1: the bands mixed, per-band
    and overall gains, saturation drawn from `saturation` (0: grey), a gamma; clipped to 0-1."""
    mixing = np.eye(3) + rng.normal(0, 0.06, (3, 3))
    x = np.tensordot(mixing, x, axes=1)
    x = x * rng.uniform(0.8, 1.2, (3, 1, 1)) * rng.uniform(0.75, 1.25)
    grey = x.mean(axis=0, keepdims=True)
    x = grey + (x - grey) * rng.uniform(*saturation)
    out: npt.NDArray[np.float64] = np.clip(x, 0, 1) ** rng.uniform(0.7, 1.4)
    return out
