"""Held-out AP50 of the generated classes pooled over several draws of generated objects on the
held-out frames and backgrounds: how far the single draw of `sitewatch eval-detector` (seed
1234: 42 / 48 large vehicles and 41 / 46 cranes at 0.3 / 0.5 m) is from what the same model
scores on many draws of the same backgrounds.

The draws use seeds SEED, SEED+1, ... (SEED 1234 by default, so the first draw is eval-detector's
own). Every draw's images and detections are pooled and scored once, as one larger held-out set
(`train.evaluate.score_detections`, with its 90% bootstrap interval over the images). Large
vehicles are also scored with the frames' real trucks and buses ignored (`ignore_real`), as in
eval-detector's "real ignored" rows. The backgrounds stay the same 32 frames, so the interval
narrows for the draw of objects, not for the draw of places. For information: the held-out split
chooses nothing.

    .venv/bin/python benchmarks/heldout_draws.py MODEL [MODEL ...] [--config CONFIG] \
        [--draws 10] [--seed 1234] > figures.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sitewatch.core.models import Detection, ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions
from sitewatch.train.config import load_train_config
from sitewatch.train.data import load_split
from sitewatch.train.dataset import GENERATED_CLASSES
from sitewatch.train.evaluate import (
    EvalImage,
    detect_all,
    generated_eval_set,
    ignore_real,
    score_detections,
)


def pooled(rep: dict[str, Any], classes: list[str]) -> dict[str, Any]:
    """AP50, its interval and the object count per class of a report."""
    return {
        c: {
            "AP50": round(rep[c]["AP50"], 4),
            "AP50_90pct": [round(x, 3) for x in rep[c]["AP50_interval"]],
            "objects": rep[c]["objects"],
        }
        for c in classes
        if c in rep
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--config", type=Path, default=Path("configs/train-det.yaml"))
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--gsd", type=float, action="append", default=None)
    args = ap.parse_args()
    split = load_split(load_train_config(args.config))
    frames = list(split.val) + list(split.val_backgrounds)
    gsds = args.gsd or [0.3, 0.5]
    scenes = {
        g: [s for d in range(args.draws) for s in generated_eval_set(frames, g, args.seed + d)]
        for g in gsds
    }
    out: dict[str, Any] = {
        "config": str(args.config),
        "split": "held-out frames and backgrounds of the config",
        "seeds": [args.seed, args.seed + args.draws - 1],
        "draws": args.draws,
    }
    options = DetectOptions(overlap_px=64)
    generated = [c.value for c in GENERATED_CLASSES]
    for path in args.models:
        detector = load_detector(path, score_floor=0.05)
        operating = {c: detector.spec.threshold(c) for c in ObjectClass}
        figures: dict[str, Any] = {}
        for g in gsds:
            items: list[EvalImage] = scenes[g]
            found: list[list[Detection]] = detect_all(items, detector, options)
            figures[f"generated {g:g} m"] = pooled(
                score_detections(items, found, operating), generated
            )
            alone, kept, classes = ignore_real(items, found)
            figures[f"generated {g:g} m, real ignored"] = pooled(
                score_detections(alone, kept, operating), [c.value for c in sorted(classes)]
            )
        out[path.name] = figures
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
