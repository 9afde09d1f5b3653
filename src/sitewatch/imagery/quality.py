"""What a scene can show of each zone: coverage, nodata, a cloud score, a haze score, a verdict.

The scores are simple, documented spectral-spatial tests (see docs/quality.md for what they can
and cannot see, measured on real images):

* cloud: the share of valid zone pixels that are bright (visible mean >= 0.65 of full scale),
  nearly colourless (RGB spread <= 0.2 of brightness, when there are 3+ bands) and smooth
  (standard deviation <= 0.05 in 8x8 blocks). Bright, flat, grey roofs and snow also pass.
* haze: the median "dark channel" (minimum over visible bands and over 8x8 blocks); clear
  scenes have dark pixels (shadows, water, vegetation) almost everywhere, haze lifts them.

Full scale is taken from the pixel type: uint8 255; uint16/int16 10000 when values exceed 4095
(reflectance x 10000, as Sentinel-2 and Landsat level-2), else 4095 (12-bit); float32 1.0 when
values stay below 1.5, else 10000.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio.features

from sitewatch.core.models import QualityThresholds, Site, SiteGrid, ZoneQuality
from sitewatch.geo.crs import WGS84, reproject_geometry

BLOCK = 8
CLOUD_MIN_BRIGHTNESS = 0.65
CLOUD_MAX_SPREAD = 0.2
CLOUD_MAX_BLOCK_STD = 0.05
MAX_ANALYSIS_PX = 1024


def zone_masks(site: Site, grid: SiteGrid) -> dict[str, npt.NDArray[np.bool_]]:
    """Rasterise each zone (pixel centres inside) onto the site grid."""
    out: dict[str, npt.NDArray[np.bool_]] = {}
    for z in site.zones:
        g = reproject_geometry(z.geometry, WGS84, grid.crs, max_segment=0.0002)
        m = rasterio.features.rasterize(
            [(g, 1)], out_shape=grid.shape, transform=grid.transform, fill=0, dtype="uint8"
        )
        out[z.id] = m.astype(bool)
    return out


def full_scale(data: npt.NDArray[Any]) -> float:
    """The value that stands for 100% brightness in this pixel type (see module docstring)."""
    if data.dtype == np.uint8:
        return 255.0
    peak = float(np.nanmax(data)) if data.size else 0.0
    if np.issubdtype(data.dtype, np.integer):
        return 10000.0 if peak > 4095 else 4095.0
    return 1.0 if peak <= 1.5 else 10000.0


def _blocks(a: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    h, w = (a.shape[0] // BLOCK) * BLOCK, (a.shape[1] // BLOCK) * BLOCK
    return a[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).swapaxes(1, 2)


def cloud_haze_scores(
    data: npt.NDArray[Any], valid: npt.NDArray[np.bool_], zone: npt.NDArray[np.bool_]
) -> tuple[float | None, float | None]:
    """Cloud and haze scores (0..1) over the valid pixels of a zone; (None, None) when none."""
    rows, cols = np.nonzero(zone & valid)
    if rows.size == 0:
        return None, None
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    step = max(1, int(np.ceil(max(r1 - r0, c1 - c0) / MAX_ANALYSIS_PX)))
    sub = data[: min(3, data.shape[0]), r0:r1:step, c0:c1:step].astype(np.float32)
    sub /= full_scale(data)
    ok = (valid & zone)[r0:r1:step, c0:c1:step]
    bright = sub.mean(axis=0)
    cloudy = bright >= CLOUD_MIN_BRIGHTNESS
    if sub.shape[0] >= 3:
        spread = (sub.max(axis=0) - sub.min(axis=0)) / np.maximum(bright, 1e-6)
        cloudy &= spread <= CLOUD_MAX_SPREAD
    dark = sub.min(axis=0)
    if bright.shape[0] >= BLOCK and bright.shape[1] >= BLOCK:
        bb = _blocks(bright)
        smooth = bb.std(axis=(2, 3)) <= CLOUD_MAX_BLOCK_STD
        smooth_px = np.repeat(np.repeat(smooth, BLOCK, 0), BLOCK, 1)
        cloudy_b = np.zeros_like(cloudy)
        cloudy_b[: smooth_px.shape[0], : smooth_px.shape[1]] = smooth_px
        cloudy &= cloudy_b
        ok_b = _blocks(ok.astype(np.float32)).min(axis=(2, 3)) > 0
        dark_b = _blocks(dark).min(axis=(2, 3))[ok_b]
    else:
        dark_b = dark[ok]
    cloud = float(cloudy[ok].mean())
    haze = float(np.median(dark_b)) if dark_b.size else float(np.median(dark[ok]))
    return round(cloud, 4), round(min(1.0, max(0.0, haze)), 4)


def assess_zone_quality(
    scene_id: str,
    site_id: str,
    zone_id: str,
    covered_fraction: float,
    data: npt.NDArray[Any],
    valid: npt.NDArray[np.bool_],
    zone: npt.NDArray[np.bool_],
    thresholds: QualityThresholds,
) -> ZoneQuality:
    """Score one zone of one scene warped on the site grid and give a usable verdict with its reason."""
    n = int(zone.sum())
    nodata = 1.0 - (float((zone & valid).sum()) / n) if n else 1.0
    cloud, haze = cloud_haze_scores(data, valid, zone)
    t = thresholds
    if covered_fraction < t.min_covered_fraction:
        reason = f"covered {covered_fraction:.0%} < {t.min_covered_fraction:.0%}"
    elif nodata > t.max_nodata_fraction:
        reason = f"nodata {nodata:.0%} > {t.max_nodata_fraction:.0%}"
    elif cloud is not None and cloud > t.max_cloud_score:
        reason = f"cloud score {cloud:.2f} > {t.max_cloud_score:.2f}"
    elif haze is not None and haze > t.max_haze_score:
        reason = f"haze score {haze:.2f} > {t.max_haze_score:.2f}"
    else:
        reason = "ok"
    return ZoneQuality(
        scene_id=scene_id,
        site_id=site_id,
        zone_id=zone_id,
        covered_fraction=round(covered_fraction, 4),
        nodata_fraction=round(nodata, 4),
        cloud_score=cloud,
        haze_score=haze,
        usable=reason == "ok",
        reason=reason,
    )
