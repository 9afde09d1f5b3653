"""Benchmark: chips of a 2 km x 2 km site from a generated 40,000 x 40,000 px tiled COG.

Target (foundation issue): under 2 s and under 500 MB peak memory.

The scene is generated once into benchmarks/.cache (about 0.5 GB): 3-band uint8, 0.4 m GSD,
EPSG:32651, 512 px tiles, deflate, overviews, written through GDAL's COG driver. The site grid
is 0.5 m, so every chip is a real resampling warp (no aligned fast path). Each measurement runs
in a fresh child process; peak memory is that process's peak resident set (VmHWM),
interpreter and libraries included.

    .venv/bin/python benchmarks/bench_chips.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"
SCENE = CACHE / "scene_40k.tif"
SIZE = 40_000
GSD = 0.4
ORIGIN = (400_000.0, 4_400_000.0)  # UTM 51N, near 39.7 N 123.8 E


def make_scene() -> None:
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as rio_copy
    from rasterio.windows import Window

    CACHE.mkdir(exist_ok=True)
    tmp = CACHE / "scene_40k_tmp.tif"
    rng = np.random.default_rng(0)
    tile = np.full((3, 512, 512), 90, np.uint8)
    for _ in range(80):
        r, c = rng.integers(0, 480, 2)
        h, w = rng.integers(6, 40, 2)
        tile[:, r : r + h, c : c + w] = rng.integers(40, 220, (3, 1, 1))
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32651",
        "transform": Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1]),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "BIGTIFF": "YES",
    }
    with rasterio.open(tmp, "w", **profile) as ds:
        n = SIZE // 512 + 1
        for j in range(n):
            for i in range(n):
                w = min(512, SIZE - i * 512)
                h = min(512, SIZE - j * 512)
                if w <= 0 or h <= 0:
                    continue
                block = np.roll(tile, (i * 37 + j * 11) % 512, axis=2)[:, :h, :w]
                ds.write(block, window=Window(i * 512, j * 512, w, h))
        ds.build_overviews([2, 4, 8, 16, 32, 64], Resampling.average)
    rio_copy(tmp, SCENE, driver="COG", compress="DEFLATE", copy_src_overviews=True, BIGTIFF="YES")
    tmp.unlink()


def _vm_hwm_mb() -> float:
    """Peak resident set of this process image (VmHWM). ru_maxrss is not used: on Linux it
    carries the parent's peak across fork + exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, home: str) -> None:
    """Runs in a fresh process: one measurement, printed as JSON."""
    t0 = time.perf_counter()
    if mode == "render":
        from sitewatch.imagery.warp import render_on_grid
        from sitewatch.store import open_store

        grid = open_store(Path(home)).get_grid("bench")
        t0 = time.perf_counter()
        data, _valid = render_on_grid(SCENE, grid)
        shape = list(data.shape)
    else:
        from sitewatch.pipeline.chips import ChipOptions, make_chips
        from sitewatch.store import open_store

        store = open_store(Path(home))
        t0 = time.perf_counter()
        res = make_chips(store, "bench", Path(home) / "chips", None, ChipOptions())
        shape = [len(res.chips)]
    elapsed = time.perf_counter() - t0
    peak_mb = _vm_hwm_mb()
    print(json.dumps({"mode": mode, "seconds": elapsed, "peak_rss_mb": peak_mb, "shape": shape}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if not SCENE.exists():
        t = time.perf_counter()
        make_scene()
        print(
            f"generated {SCENE} ({SCENE.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s"
        )
    import tempfile

    from pyproj import Transformer

    from sitewatch.pipeline.ingest import ingest_paths
    from sitewatch.pipeline.sites import import_sites
    from sitewatch.store import open_store

    home = Path(tempfile.mkdtemp(prefix="sitewatch-bench-"))
    # a 2 km x 2 km site in the middle of the scene
    cx, cy = ORIGIN[0] + SIZE * GSD / 2, ORIGIN[1] - SIZE * GSD / 2
    to_ll = Transformer.from_crs("EPSG:32651", "EPSG:4326", always_xy=True)
    ring = [
        to_ll.transform(cx + dx, cy + dy)
        for dx, dy in [(-1000, -1000), (1000, -1000), (1000, 1000), (-1000, 1000), (-1000, -1000)]
    ]
    wl = home / "bench.geojson"
    wl.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                        "properties": {"role": "site", "id": "bench", "gsd_m": 0.5},
                    }
                ],
            }
        )
    )
    store = open_store(home)
    import_sites(wl, store, 100.0)
    from datetime import UTC, datetime

    t = time.perf_counter()
    ingest_paths([SCENE], store, datetime(2020, 1, 1, tzinfo=UTC))
    ingest_s = time.perf_counter() - t
    grid = store.get_grid("bench")
    print(
        f"site grid {grid.width} x {grid.height} px at {grid.gsd_m} m ({grid.crs}); scene {SIZE} x {SIZE} px at {GSD} m"
    )
    print(
        f"ingest (sha256 of {SCENE.stat().st_size / 1e6:.0f} MB, metadata, footprint from overview): {ingest_s:.2f} s"
    )
    rows = []
    for mode in ("render", "chips"):
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(home)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for mode in ("render", "chips"):
        sel = [r for r in rows if r["mode"] == mode]
        best = min(r["seconds"] for r in sel)
        med = sorted(r["seconds"] for r in sel)[len(sel) // 2]
        peak = max(r["peak_rss_mb"] for r in sel)
        what = (
            "read + warp onto the grid"
            if mode == "render"
            else "full 'chips': read, warp, quality, COG + PNG written, store"
        )
        print(
            f"{mode:6} {what}: best {best:.2f} s, median {med:.2f} s, peak RSS {peak:.0f} MB (n={len(sel)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
