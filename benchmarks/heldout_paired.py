"""Two detectors on the held-out split, paired: every AP50 of `sitewatch eval-detector` for MODEL
and for DEFAULT on the same images, and per row the 90% paired bootstrap interval over the
images of MODEL's AP50 minus DEFAULT's (`train.evaluate.ap_difference_interval`). It says which
held-out differences between two releases are larger than the draw of images alone would give.

For information only: adoption rules are judged on the selection and training splits, never on
the held-out split, and this script chooses nothing.

    .venv/bin/python benchmarks/heldout_paired.py MODEL DEFAULT [--config CONFIG] [--draws N]
        > paired.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.train.config import load_train_config
from sitewatch.train.data import load_split
from sitewatch.train.evaluate import heldout_reports, paired_intervals


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("default", type=Path)
    ap.add_argument("--config", type=Path, default=Path("configs/train-det.yaml"))
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.3, 0.5])
    ap.add_argument("--draws", type=int, default=1, help="draws of generated objects pooled")
    args = ap.parse_args()
    split = load_split(load_train_config(args.config))
    reports = {}
    for path in (args.model, args.default):
        detector = load_detector(path, 0, score_floor=0.05)
        operating = {cls: detector.spec.threshold(cls) for cls in ObjectClass}
        reports[path] = heldout_reports(
            detector, split.val, split.val_backgrounds, args.gsd, operating, draws=args.draws
        )
    mine, theirs = reports[args.model], reports[args.default]
    rows = {}
    for setting, rep in mine.items():
        intervals = paired_intervals(rep, theirs[setting])
        rows[setting] = {
            cls: {
                "AP50": round(r["AP50"], 4),
                "default_AP50": round(theirs[setting][cls]["AP50"], 4),
                "difference": round(r["AP50"] - theirs[setting][cls]["AP50"], 4),
                "difference_90pct": [round(x, 4) for x in intervals[cls]],
            }
            for cls, r in rep.items()
        }
    out = {
        "model": args.model.name,
        "default": args.default.name,
        "config": str(args.config),
        "split": "held-out (validation) frames and backgrounds of the config",
        "generated_draws": args.draws,
        "results": rows,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
