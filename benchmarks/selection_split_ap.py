"""AP50 of detectors on generated objects drawn on real backgrounds of a place that no detector
was trained on and that the held-out split does not use: a *selection* split, for adoption rules
about generalisation to new places (the training-split figures of `training_split_ap.py` measure
how well a detector fits the places it was trained on; the held-out split reports and chooses
nothing).

The backgrounds are read where they lie and never trained on or committed; their own vehicles are
unlabelled, so a large-vehicle detection of a real truck there counts as false for every
detector alike (a comparison, not an absolute figure). Each background is drawn on `--draws`
times (seeds SEED, SEED+1, ...), `--groups` object groups each, and read at the backgrounds'
own GSD (interpolated up to the model's working GSD, as inference does).

Because of that, each model's figures also carry `bare_tiles_at_threshold`: its detections per
class at its operating thresholds on the backgrounds alone, nothing drawn (real vehicles and
whatever else it fires on). A model that finds fewer real trucks there gains large-vehicle AP50
here without being better on the drawn ones; this count shows how far that can go.

With `--paired-with DEFAULT [DEFAULT ...]` (one per MODEL) each default is evaluated on the same
scenes too, and its model's figures carry `AP50_minus_default_90pct`: per class, the 90% paired
bootstrap interval over the images of the model's AP50 minus the default's
(`train.evaluate.ap_difference_interval`), and of the mean generated AP50's difference.

    .venv/bin/python benchmarks/selection_split_ap.py MODEL [MODEL ...] --backgrounds DIR \
        --gsd 0.6 --seed N [--paired-with DEFAULT ...] > figures.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions
from sitewatch.train.dataset import GENERATED_CLASSES
from sitewatch.train.evaluate import (
    ap_difference_interval,
    at_threshold,
    detect_all,
    evaluate,
    generated_eval_set,
    paired_intervals,
)
from sitewatch.train.labels import LabelledImage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--backgrounds", type=Path, required=True, help="folder of GeoTIFF tiles")
    ap.add_argument("--gsd", type=float, required=True, help="the tiles' GSD in metres")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--groups", type=int, default=24)
    ap.add_argument("--paired-with", type=Path, nargs="+", help="one default per model")
    args = ap.parse_args()
    if args.paired_with and len(args.paired_with) != len(args.models):
        raise SystemExit("--paired-with names one default per model")
    tiles = sorted(args.backgrounds.glob("*.tif"))
    if not tiles:
        raise SystemExit(f"no .tif under {args.backgrounds}")
    frames = [LabelledImage(t, (), args.gsd, "selection", frozenset(), group=t.stem) for t in tiles]
    items = [
        replace(item, labelled=item.labelled | {ObjectClass.LARGE_VEHICLE})
        for draw in range(args.draws)
        for item in generated_eval_set(frames, args.gsd, args.seed + draw, args.groups)
    ]
    out: dict[str, object] = {
        "backgrounds": str(args.backgrounds),
        "tiles": len(tiles),
        "gsd_m": args.gsd,
        "seed": args.seed,
        "draws": args.draws,
        "groups": args.groups,
    }

    bare = generated_eval_set(frames, args.gsd, args.seed, 0)

    def report_of(path: Path, bare_too: bool = False) -> tuple[dict[str, Any], dict[str, int]]:
        """The model's report on the scenes and, with `bare_too`, its detections per class at
        its thresholds on the bare tiles."""
        detector = load_detector(path, score_floor=0.05)
        operating = {c: detector.spec.threshold(c) for c in ObjectClass}
        options = DetectOptions(overlap_px=64)
        report = evaluate(detector, items, options, operating)
        if not bare_too:
            return report, {}
        kept = [d for image in detect_all(bare, detector, options) for d in image]
        counts = Counter(d.object_class.value for d in at_threshold(kept, operating))
        return report, {c.value: counts[c.value] for c in ObjectClass}

    generated = [c.value for c in GENERATED_CLASSES]
    for k, path in enumerate(args.models):
        report, bare_counts = report_of(path, bare_too=True)
        ap50 = {c.value: round(report[c.value]["AP50"], 4) for c in GENERATED_CLASSES}
        figures: dict[str, Any] = {
            "AP50": ap50,
            "objects": {c.value: report[c.value]["objects"] for c in GENERATED_CLASSES},
            "mean_generated_AP50": round(sum(ap50.values()) / len(ap50), 4),
            "bare_tiles_at_threshold": bare_counts,
        }
        if args.paired_with:
            default, _ = report_of(args.paired_with[k])
            figures["paired_with"] = args.paired_with[k].name
            figures["AP50_minus_default_90pct"] = {
                cls: [round(x, 4) for x in interval]
                for cls, interval in paired_intervals(report, default).items()
                if cls in generated
            }
            pairs = [(report[c]["matches"], default[c]["matches"]) for c in generated]
            figures["mean_generated_AP50_minus_default_90pct"] = [
                round(x, 4) for x in ap_difference_interval(pairs)
            ]
        out[path.name] = figures
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
