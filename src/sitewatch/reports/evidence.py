"""Evidence images for alerts and reports: before/after chips of a zone with detections drawn,
and a zone's count time series against its baseline band (missing dates as gaps)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.patches import Polygon as MplPolygon

from sitewatch.core.models import Detection
from sitewatch.errors import InputError

COLOURS = {
    "small_vehicle": "#ffd400",
    "large_vehicle": "#ff3b30",
    "rail_car": "#34c759",
    "crane": "#00c7ff",
    "container": "#ff2dff",
}


def _save(fig: Any, path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.png")
        fig.savefig(tmp, dpi=110)
        tmp.replace(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write evidence image ({exc})") from exc
    finally:
        plt.close(fig)
    return path


def render_chip_pair(
    path: Path,
    before: npt.NDArray[np.uint8],
    after: npt.NDArray[np.uint8],
    before_dets: Sequence[Detection],
    after_dets: Sequence[Detection],
    window: tuple[int, int, int, int],
    titles: tuple[str, str],
    outline: npt.NDArray[np.float64] | None = None,
) -> Path:
    """Two RGB chips (3, rows, cols) cut to `window` (row0, col0, row1, col1), boxes drawn."""
    r0, c0, r1, c1 = window
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.8))
    for ax, img, dets, title in zip(
        axes, (before, after), (before_dets, after_dets), titles, strict=True
    ):
        ax.imshow(np.moveaxis(img[:3, r0:r1, c0:c1], 0, -1), interpolation="nearest")
        for d in dets:
            pts = d.box.corners() - np.array([c0, r0])
            ax.add_patch(
                MplPolygon(
                    pts,
                    closed=True,
                    fill=False,
                    lw=1.2,
                    edgecolor=COLOURS.get(d.object_class.value, "white"),
                )
            )
        if outline is not None:
            ax.plot(outline[:, 0] - c0, outline[:, 1] - r0, color="white", lw=1, ls="--")
        ax.set_xlim(-0.5, c1 - c0 - 0.5)
        ax.set_ylim(r1 - r0 - 0.5, -0.5)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _save(fig, path)


def render_timeline(
    path: Path,
    title: str,
    days: Sequence[date],
    counts: Sequence[int | None],
    band_low: Sequence[int | None],
    band_high: Sequence[int | None],
    marks: Sequence[date] = (),
) -> Path:
    """Counts over time (None: not usable that day, drawn as a gap with a grey tick) against the
    baseline's 5-95% band; `marks` draws vertical lines (alert dates)."""
    fig, ax = plt.subplots(figsize=(8, 3))
    x = np.array(days, dtype="datetime64[D]")
    y = np.array([np.nan if c is None else c for c in counts], dtype=float)
    lo = np.array([np.nan if v is None else v for v in band_low], dtype=float)
    hi = np.array([np.nan if v is None else v for v in band_high], dtype=float)
    if len(x):
        ax.fill_between(x, lo, hi, step="mid", alpha=0.25, color="tab:blue", label="usual (5-95%)")
        ax.plot(x, y, "o-", color="black", ms=3.5, lw=1, label="count")
        missing = x[np.isnan(y)]
        if len(missing):
            ax.plot(missing, np.zeros(len(missing)), "x", color="grey", label="not usable")
    for m in marks:
        ax.axvline(np.datetime64(m, "D"), color="tab:red", lw=1, ls="--")  # type: ignore[arg-type]
    ax.set_title(title, fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    return _save(fig, path)


def render_overview(
    path: Path,
    image: npt.NDArray[np.uint8],
    zones: Sequence[tuple[str, npt.NDArray[np.float64]]],
    title: str,
) -> Path:
    """An RGB chip (3, rows, cols) with each zone's outline (pixel ring) and name."""
    fig, ax = plt.subplots(figsize=(7, 7 * image.shape[1] / max(image.shape[2], 1)))
    ax.imshow(np.moveaxis(image[:3], 0, -1), interpolation="nearest")
    for i, (name, ring) in enumerate(zones):
        colour = f"C{i % 10}"
        ax.plot(ring[:, 0], ring[:, 1], color=colour, lw=1.6)
        ax.text(
            ring[:, 0].min() + 3,
            ring[:, 1].min() + 3,
            name,
            color="white",
            fontsize=8,
            va="top",
            bbox={"facecolor": colour, "alpha": 0.7, "pad": 1, "lw": 0},
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
