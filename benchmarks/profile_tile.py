"""Per-operator times of a detector on real 1024 px tiles, from onnxruntime's own profiler: with
the session sitewatch opens (`detect.onnx.open_session`: NHWC layout transformer off, no
spinning threads) and with the NHWC transformer on, as onnxruntime would run by default. This is
the measurement behind the session options' docstring and docs/detector.md, "Inference".

Tiles: four windows of the speed scene of bench_detect.py (made there if missing), each run
`--runs` times after a warm-up; times are per tile. Profiling adds its own overhead, so the
totals are slower than bench_detect.py's.

    .venv/bin/python benchmarks/profile_tile.py [--model M] [--runs 5]
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
WINDOWS = ((0, 500), (2000, 3000), (4000, 500), (4000, 3000))


def profile(model: Path, tiles: list[np.ndarray], runs: int, nhwc: bool) -> dict[str, float]:
    """Milliseconds per tile by operator type, and the wall time per tile (`total`)."""
    import time

    import onnxruntime as ort

    from sitewatch.detect.onnx import NHWC_OFF

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with tempfile.TemporaryDirectory() as tmp:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(
            str(model),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=[] if nhwc else NHWC_OFF,
        )
        name = session.get_inputs()[0].name
        floats = session.get_inputs()[0].type == "tensor(float)"
        feeds = [t.astype(np.float32) if floats else t for t in tiles]
        session.run(None, {name: feeds[0]})
        start = time.perf_counter()
        for _ in range(runs):
            for x in feeds:
                session.run(None, {name: x})
        wall = (time.perf_counter() - start) / (runs * len(feeds))
        events = json.loads(Path(session.end_profiling()).read_text())
    calls = (runs * len(feeds)) + 1
    per_op: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"] / 1000 / calls
    return {"total": wall * 1000, **dict(per_op.most_common())}


def main() -> None:
    import sys

    import rasterio

    sys.path.insert(0, str(HERE))
    from bench_detect import MODELS, SPEED_SCENE, make_speed_scene
    from sitewatch.cli.detect import DEFAULT_MODEL

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=MODELS / DEFAULT_MODEL)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not SPEED_SCENE.exists():
        make_speed_scene()
    with rasterio.open(SPEED_SCENE) as ds:
        tiles = [ds.read(window=((r, r + 1024), (c, c + 1024)))[None] for r, c in WINDOWS]
    print(f"{args.model.name}: ms per 1024 px tile (onnxruntime profiler, {args.runs} x 4 tiles)")
    for label, nhwc in (("as sitewatch runs it (NHWC off)", False), ("NHWC transformer on", True)):
        times = profile(args.model, tiles, args.runs, nhwc)
        ops = ", ".join(f"{op} {ms:.2f}" for op, ms in times.items() if op != "total")
        print(f"{label}: {times['total']:.1f} ms per tile; {ops}")


if __name__ == "__main__":
    main()
