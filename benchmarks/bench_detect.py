"""Benchmark: detection end to end (read, tile, infer, merge, write GeoJSON + GeoPackage).

Targets (detector issue): at least 1 km2 of ground per second at 0.3 m GSD (11.1 megapixels/s)
on this 2-core machine with the default model; a 40,000 x 40,000 px scene with peak RSS at most
1.5 GB. Also reported: GFLOPs per megapixel of each model (convolutions, counted on the ONNX
graph), the machine's measured float32 matrix-multiply peak, and the fraction of it reached; and
a YOLOv8-style ONNX baseline of similar compute, timed with the same tiling in the same run.

Speed scene: 6144 x 6144 px at 0.3 m (3.4 km2), a mosaic of the KIT and Minsk frames resampled
to 0.3 m (real street scenes, dense with cars), tiled deflate GeoTIFF in EPSG:32632, generated
once into benchmarks/.cache. Memory scene: the 40,000 x 40,000 px COG of bench_chips.py (0.4 m).
Each measurement runs in a fresh child process; peak memory is its VmHWM.

    .venv/bin/python benchmarks/bench_detect.py [--skip-memory] [--repeat 2] [--batch N]

"Inference alone" is the scene's megapixels over the time spent in the detector's predict
(network and decoding); the share of the matmul peak counts the pixels the network ran on,
overlaps and padding included. `--batch` sets the tiles per inference call (default:
DetectOptions' default, 1); `--tile` the tile size (default: the model's); `--only NAME`
times only the models whose name contains NAME; `--model PATH` adds a model file to the list (an
experiment's, say), named by its file name.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
CACHE = HERE / ".cache"
SPEED_SCENE = CACHE / "scene_03m.tif"
SPEED_SIZE = 6144
REPO = HERE.parent
MODELS = REPO / "models"
SHARED = REPO.parent / "shared" / "data"


def make_speed_scene() -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    from sitewatch.imagery.pixels import read_image
    from sitewatch.train.degrade import resample_to_gsd

    frames = []
    for folder, gsd in (("kit_ais_aerial_cars", 0.13), ("minsk_drone_vehicles", 0.0584)):
        for p in sorted((SHARED / folder / "images").iterdir()):
            img, _, _ = resample_to_gsd(read_image(p), gsd, 0.3)
            frames.append(np.clip(img, 0, 255).astype(np.uint8))
    mosaic = np.zeros((3, SPEED_SIZE, SPEED_SIZE), np.uint8)
    r = c = row_h = 0
    i = 0
    while r < SPEED_SIZE:
        f = frames[i % len(frames)]
        i += 1
        h, w = f.shape[1:]
        if c + w > SPEED_SIZE:
            w = SPEED_SIZE - c
        hh = min(h, SPEED_SIZE - r)
        mosaic[:, r : r + hh, c : c + w] = f[:, :hh, :w]
        row_h = max(row_h, h)
        c += w
        if c >= SPEED_SIZE:
            r, c, row_h = r + row_h, 0, 0
    CACHE.mkdir(exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": SPEED_SIZE,
        "height": SPEED_SIZE,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32632",
        "transform": Affine(0.3, 0, 690000.0, 0, -0.3, 5335000.0),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    with rasterio.open(SPEED_SCENE, "w", **profile) as ds:
        ds.write(mosaic)


def gflops_per_mp(name: str, model: Path) -> float:
    """Convolution FLOPs (2 per multiply-add) per megapixel, counted on the torch definitions
    (the int8 model runs the same convolutions as the fp32 one), with the extent-mask heads the
    model file declares."""
    if name.startswith("YOLO"):
        sys.path.insert(0, str(HERE))
        from yolo_baseline import YoloBaseline
        from yolo_baseline import gflops_per_mp as yolo_gf

        return yolo_gf(YoloBaseline())
    from sitewatch.detect.onnx import load_spec
    from sitewatch.train.model import SiteDet, gflops_per_megapixel

    return gflops_per_megapixel(SiteDet(mask_classes=len(load_spec(model).mask_classes)))


def matmul_peak_gflops() -> float:
    import numpy as np

    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048**3 / (time.perf_counter() - t) / 1e9)
    return best


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(model: str, scene: str, out: str, batch_size: str = "0", tile: str = "0") -> None:
    from sitewatch.detect.onnx import load_detector
    from sitewatch.detect.run import DetectOptions
    from sitewatch.pipeline.detect import detect_raster, to_map
    from sitewatch.reports.vector import write_geojson, write_geopackage

    detector = load_detector(Path(model), threads=2)
    infer = [0.0]
    computed = [0]  # pixels the network ran on, padding and overlaps included
    predict = detector.predict

    def timed(batch):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        res = predict(batch)
        infer[0] += time.perf_counter() - t
        computed[0] += batch.shape[0] * batch.shape[2] * batch.shape[3]
        return res

    detector.predict = timed  # type: ignore[method-assign]
    import rasterio

    with rasterio.open(scene) as ds:
        gsd, rows, cols = ds.res[0], ds.height, ds.width
    t0 = time.perf_counter()
    options = DetectOptions(batch=int(batch_size) or 1, tile_px=int(tile) or None)
    dset = detect_raster(Path(scene), gsd, detector, options)
    mapped = to_map(dset)
    write_geojson(Path(out) / "det.geojson", mapped.wgs84, mapped.columns, {"model": "bench"})
    assert dset.crs is not None
    write_geopackage(Path(out) / "det.gpkg", mapped.native, mapped.columns, dset.crs)
    elapsed = time.perf_counter() - t0
    mp = rows * cols / 1e6
    print(
        json.dumps(
            {
                "model": Path(model).name,
                "scene_px": [rows, cols],
                "gsd_m": gsd,
                "seconds": elapsed,
                "inference_seconds": infer[0],
                "computed_megapixels": computed[0] / 1e6,
                "megapixels_per_s": mp / elapsed,
                "km2_per_s": mp * gsd * gsd / elapsed,
                "detections": len(dset.detections),
                "tiles_run": dset.tiles_run,
                "tiles_skipped": dset.tiles_skipped_empty,
                "peak_rss_mb": _vm_hwm_mb(),
            }
        )
    )


def run_child(
    model: Path, scene: Path, tmp: Path, batch: int = 0, tile: int = 0
) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *map(str, (model, scene, tmp, batch, tile))],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=5)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="tiles per call (0: the default)")
    ap.add_argument("--tile", type=int, default=0, help="tile size in px (0: the model's)")
    ap.add_argument("--only", help="time only the models whose name contains this")
    ap.add_argument("--model", type=Path, action="append", default=[], help="another model")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    import tempfile

    if not SPEED_SCENE.exists():
        make_speed_scene()
    baseline = CACHE / "yolo-baseline.yaml"
    if not baseline.exists():
        sys.path.insert(0, str(HERE))
        from yolo_baseline import build

        build(CACHE)
    from sitewatch.cli.detect import DEFAULT_FP32_MODEL, DEFAULT_MODEL

    models = {
        "sitewatch fp32": MODELS / DEFAULT_FP32_MODEL,
        "sitewatch int8 (default)": MODELS / DEFAULT_MODEL,
        "YOLOv8-style baseline fp32": baseline,
        **{m.name: m for m in args.model},
    }
    peak = matmul_peak_gflops()
    print(
        f"machine: {os.cpu_count()} cores; float32 matmul peak (numpy, 2048^3): {peak:.0f} GFLOP/s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            if args.only and args.only not in name:
                continue
            # an added model's network is not known here: its compute is not reported
            gf = gflops_per_mp(name, model) if model not in args.model else None
            runs = [
                run_child(model, SPEED_SCENE, Path(tmp), args.batch, args.tile)
                for _ in range(args.repeat)
            ]
            best = min(runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
            run_list = ", ".join(f"{float(r['seconds']):.2f}" for r in runs)  # type: ignore[arg-type]
            infer_s = float(best["inference_seconds"])  # type: ignore[arg-type]
            scene_mp = SPEED_SIZE**2 / 1e6
            infer_mps = scene_mp / infer_s
            tiles_mp = float(best["computed_megapixels"])  # type: ignore[arg-type]
            compute = f"{gf:.2f} GFLOPs/MP; " if gf is not None else ""
            # the network's rate counts the pixels it ran on (overlaps and padding included)
            share = (
                f"; the network ran on {tiles_mp:.1f} MP of tiles "
                f"({tiles_mp / scene_mp:.2f}x the scene): {gf * tiles_mp / infer_s:.0f}"
                f" GFLOP/s = {gf * tiles_mp / infer_s / peak:.1%} of the matmul peak"
                if gf is not None
                else ""
            )
            print(
                f"{name}: {compute}end to end best {best['seconds']:.2f} s = "
                f"{best['km2_per_s']:.2f} km2/s = {best['megapixels_per_s']:.1f} MP/s "
                f"(runs: {run_list} s); inference alone {infer_mps:.1f} MP/s{share}; "
                f"detections {best['detections']}; "
                f"peak RSS {float(best['peak_rss_mb']):.0f} MB"  # type: ignore[arg-type]
            )
        if not args.skip_memory:
            sys.path.insert(0, str(HERE))
            from bench_chips import SCENE, make_scene

            if not SCENE.exists():
                make_scene()
            r = run_child(models["sitewatch int8 (default)"], SCENE, Path(tmp), 0, args.tile)
            print(
                f"memory: 40,000 x 40,000 px scene ({SCENE.name}, 0.4 m), sitewatch int8 (default): "
                f"{r['seconds']:.1f} s, {r['megapixels_per_s']:.1f} MP/s, peak RSS "
                f"{float(r['peak_rss_mb']):.0f} MB, {r['tiles_run']} tiles run, "  # type: ignore[arg-type]
                f"{r['tiles_skipped']} skipped, {r['detections']} detections"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
