"""Cloud and haze scores and the usable verdict, on painted arrays."""

from __future__ import annotations

import numpy as np

from sitewatch.core.models import QualityThresholds
from sitewatch.imagery.quality import assess_zone_quality, cloud_haze_scores


def _ground(n: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    g = rng.integers(20, 140, (3, n, n)).astype(np.uint8)
    g[1] = np.clip(g[1].astype(int) + 20, 0, 255)
    return g


def test_clear_ground_scores_low() -> None:
    data = _ground()
    ok = np.ones(data.shape[1:], bool)
    cloud, haze = cloud_haze_scores(data, ok, ok)
    assert cloud is not None and cloud < 0.05
    assert haze is not None and haze < 0.2


def test_thick_cloud_is_seen() -> None:
    data = _ground()
    data[:, :, :64] = 235  # a white, flat half
    ok = np.ones(data.shape[1:], bool)
    cloud, _ = cloud_haze_scores(data, ok, ok)
    assert cloud is not None and 0.45 < cloud < 0.55


def test_haze_lifts_the_dark_channel() -> None:
    clear = _ground()
    hazy = (clear * 0.5 + 120).astype(np.uint8)
    ok = np.ones(clear.shape[1:], bool)
    assert cloud_haze_scores(hazy, ok, ok)[1] > cloud_haze_scores(clear, ok, ok)[1] + 0.3  # type: ignore[operator]


def test_verdict_names_the_reason() -> None:
    data = _ground()
    ok = np.ones(data.shape[1:], bool)
    zone = np.zeros_like(ok)
    zone[:64] = True
    t = QualityThresholds()
    assert assess_zone_quality("s", "site", "z", 1.0, data, ok, zone, t).reason == "ok"
    half = ok.copy()
    half[:48] = False
    q = assess_zone_quality("s", "site", "z", 1.0, data, half, zone, t)
    assert not q.usable and q.reason == "nodata 75% > 20%"
    q = assess_zone_quality("s", "site", "z", 0.5, data, ok, zone, t)
    assert not q.usable and q.reason == "covered 50% < 80%"
    white = data.copy()
    white[:] = 240
    q = assess_zone_quality("s", "site", "z", 1.0, white, ok, zone, t)
    assert not q.usable and q.reason.startswith("cloud score 1.00 > 0.30")


def test_uint16_reflectance_scale() -> None:
    data = _ground().astype(np.uint16) * 40  # up to ~6000: reflectance x 10000
    ok = np.ones(data.shape[1:], bool)
    cloud, _ = cloud_haze_scores(data, ok, ok)
    assert cloud == 0.0
