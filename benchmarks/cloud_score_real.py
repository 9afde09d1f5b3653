"""What the cloud and haze scores say on real, clear imagery from ../shared/data.

No real cloudy scene is in the shared data, so this measures the false-alarm side only: the
cloud score on clear images should stay near 0. Output: benchmarks/results/cloud_score_real.txt

    .venv/bin/python benchmarks/cloud_score_real.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio

from sitewatch.imagery.quality import cloud_haze_scores

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {
    "joplin pre (NAIP 0.6 m RGB)": "joplin_prepost_georef/pre",
    "joplin post (0.5 m RGB, after the tornado)": "joplin_prepost_georef/post",
    "naip north dakota (5 m RGBN, 10 dates)": "naip_timeseries_nd",
    "rotterdam (0.5 m pan uint16)": "spacenet_solaris_samples/rotterdam_sn6",
}


def main() -> int:
    if not DATA.is_dir():
        print(f"{DATA} not found")
        return 1
    lines = ["set | images | cloud score median / max | haze score median / max"]
    for name, folder in SETS.items():
        clouds, hazes = [], []
        for f in sorted((DATA / folder).glob("*.tif")):
            with rasterio.open(f) as ds:
                data = ds.read()
                valid = ds.dataset_mask() > 0
            c, h = cloud_haze_scores(data, valid, np.ones_like(valid))
            clouds.append(c or 0.0)
            hazes.append(h or 0.0)
        lines.append(
            f"{name} | {len(clouds)} | {np.median(clouds):.3f} / {max(clouds):.3f} | "
            f"{np.median(hazes):.3f} / {max(hazes):.3f}"
        )
    text = "\n".join(lines) + "\n"
    out = Path(__file__).parent / "results" / "cloud_score_real.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
