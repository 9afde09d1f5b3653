"""Resampling of sharp aerial and drone frames to satellite ground sample distance.

A frame at GSD g_in becomes a frame at g_out by area averaging (each output pixel is the mean of
the input area it covers) followed by a Gaussian point-spread function of `psf_px` output pixels,
both applied as one separable matrix per axis. Optional sensor noise and JPEG-like quantisation
are added by the augmentation step, not here. Pure numpy: evaluation uses it without torch.
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
