"""Where a detector's misses and false alarms on the generated classes come from: for each generated
object of the held-out generated scenes (the ones `sitewatch eval-detector` scores, same seed), the
outcome at the model's operating thresholds, and for each false alarm what it lies on.

Outcomes of an object of class C (IoU as in the evaluation; the best detection per object, not a
one-to-one matching, so the figures explain AP but do not reproduce it):

- found: a C detection at or above C's threshold with IoU >= 0.5;
- taken for K: none such, but a detection of another class K at or above K's threshold with
  IoU >= 0.5 (the object was seen, with the wrong class);
- below threshold: a C detection with IoU >= 0.5 scored under C's threshold;
- poor box: a C detection at or above threshold with 0.1 <= IoU < 0.5 (a piece, or the wrong
  length or angle);
- poor box below threshold: the same, scored under C's threshold;
- missed: no C detection (any score from 0.05) with IoU >= 0.1.

False alarms (class C detections at or above threshold matching no C object at IoU >= 0.5):
on a K object (IoU >= 0.5 with an object of another labelled class), on a C object (a second or
poor box of an object that is there), or elsewhere (background, unlabelled things).

    .venv/bin/python benchmarks/detector_errors.py MODEL [--config CONFIG] [--split heldout]
        > benchmarks/results/detector-errors/MODEL.md
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import numpy as np

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions
from sitewatch.train.config import load_train_config
from sitewatch.train.data import load_split
from sitewatch.train.dataset import GENERATED_CLASSES
from sitewatch.train.evaluate import detect_image, generated_eval_set, iou_matrix

OUTCOMES = ("found", "below threshold", "poor box", "poor box below threshold", "missed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--config", type=Path, default=Path("configs/train-det.yaml"))
    ap.add_argument(
        "--split",
        choices=("heldout", "training"),
        default="heldout",
        help="held-out scenes (as eval-detector) or training-split scenes (as the adoption rules)",
    )
    ap.add_argument("--gsd", type=float, action="append", default=None)
    args = ap.parse_args()
    detector = load_detector(args.model, score_floor=0.05)
    threshold = {c: detector.spec.threshold(c) for c in ObjectClass}
    split = load_split(load_train_config(args.config))
    if args.split == "heldout":
        frames, seed = split.val + split.val_backgrounds, 1234
    else:
        frames, seed = split.train[::2] + split.train_backgrounds, 7
    options = DetectOptions(overlap_px=64)
    print(f"# Errors on generated objects: {detector.info.model_id} ({args.model.name})\n")
    print(
        f"{args.split} split of `{args.config}`, generated scenes seed {seed}; "
        f"command: `benchmarks/detector_errors.py {args.model} --config {args.config} "
        f"--split {args.split}`. Operating thresholds: "
        + ", ".join(f"{c.value} {threshold[c]:.2f}" for c in GENERATED_CLASSES)
        + ".\n"
    )
    for gsd in args.gsd or [0.3, 0.5]:
        outcome: dict[ObjectClass, collections.Counter[str]] = {
            c: collections.Counter() for c in GENERATED_CLASSES
        }
        alarms: dict[ObjectClass, collections.Counter[str]] = {
            c: collections.Counter() for c in GENERATED_CLASSES
        }
        for item in generated_eval_set(frames, gsd, seed=seed):
            found = detect_image(item, detector, options)
            gts = [t for t in item.targets if t.object_class in item.labelled]
            iou = iou_matrix(found, gts)  # (detections, objects)
            kinds = [d.object_class for d in found]
            strong = np.array([d.score >= threshold[d.object_class] for d in found], dtype=bool)
            for j, gt in enumerate(gts):
                cls = gt.object_class
                if not gt.oriented or cls not in outcome:
                    continue
                own = np.array([k is cls for k in kinds], dtype=bool)
                col = iou[:, j]
                other = ~own & strong & (col >= 0.5)
                if (own & strong & (col >= 0.5)).any():
                    outcome[cls]["found"] += 1
                elif other.any():
                    best = int(np.where(other, col, -1.0).argmax())
                    outcome[cls][f"taken for {kinds[best].value}"] += 1
                elif (own & (col >= 0.5)).any():
                    outcome[cls]["below threshold"] += 1
                elif (own & strong & (col >= 0.1)).any():
                    outcome[cls]["poor box"] += 1
                elif (own & (col >= 0.1)).any():
                    outcome[cls]["poor box below threshold"] += 1
                else:
                    outcome[cls]["missed"] += 1
            for i in np.nonzero(strong)[0].tolist():
                cls = kinds[i]
                if cls not in alarms or cls not in item.labelled:
                    continue
                row = iou[i]
                same = np.array([t.object_class is cls for t in gts], dtype=bool)
                if (same & (row >= 0.5)).any():
                    continue
                if (row >= 0.5).any():
                    alarms[cls][f"on {gts[int(row.argmax())].object_class.value}"] += 1
                elif (same & (row >= 0.1)).any():
                    alarms[cls][f"on {cls.value}"] += 1
                else:
                    alarms[cls]["elsewhere"] += 1
        print(f"## {gsd:g} m\n")
        print("| class | objects | outcomes | false alarms |")
        print("|---|---|---|---|")
        for cls in GENERATED_CLASSES:
            n = sum(outcome[cls].values())
            if not n:
                continue
            taken = sorted(k for k in outcome[cls] if k not in OUTCOMES)
            keys = [k for k in OUTCOMES[:1] + tuple(taken) + OUTCOMES[1:] if k in outcome[cls]]
            text = ", ".join(f"{k} {outcome[cls][k]} ({outcome[cls][k] / n:.0%})" for k in keys)
            fa = ", ".join(f"{k} {v}" for k, v in sorted(alarms[cls].items())) or "none"
            print(f"| {cls.value} | {n} | {text} | {fa} |")
        print()


if __name__ == "__main__":
    main()
