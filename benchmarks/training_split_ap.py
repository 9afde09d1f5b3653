"""AP50 of a detector on its *training* split, the figures detector adoption rules are stated on
(never the held-out split): real training frames, and generated objects on every second
training frame and the training backgrounds, at 0.3 m and 0.5 m (`train.release.
training_split_reports`). With the default seed (7) these are the scenes the operating
thresholds are calibrated on; `--seed` draws fresh ones, for a rule that must not be judged on
scenes a choice was made on.

With `--paired-with DEFAULT` the default is evaluated on the same scenes too, and the figures
carry `AP50_minus_default_90pct`: per set and class, the 90% paired bootstrap interval over the
images of MODEL's AP50 minus DEFAULT's (`train.evaluate.ap_difference_interval`), which says
whether a difference between the two is larger than the draw of scenes alone would give.

    .venv/bin/python benchmarks/training_split_ap.py MODEL CONFIG [--seed N] \
        [--paired-with DEFAULT] > figures.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sitewatch.core.models import ObjectClass
from sitewatch.train.config import load_train_config
from sitewatch.train.data import load_split
from sitewatch.train.evaluate import paired_intervals
from sitewatch.train.release import CALIBRATION_SEED, training_split_reports


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("config", type=Path)
    ap.add_argument("--seed", type=int, default=CALIBRATION_SEED, help="generated scenes' seed")
    ap.add_argument("--paired-with", type=Path, help="a second model on the same scenes")
    args = ap.parse_args()
    split = load_split(load_train_config(args.config))
    reports = training_split_reports(args.model, split, args.seed)
    out: dict[str, object] = {"model": args.model.name, "seed": args.seed}
    generated = []
    for name, rep in reports.items():
        out[name.removesuffix(" m")] = {cls: round(r["AP50"], 4) for cls, r in rep.items()}
        if name.startswith("generated"):
            generated += [
                r["AP50"] for cls, r in rep.items() if cls != ObjectClass.SMALL_VEHICLE.value
            ]
    out["mean_generated_AP50"] = round(sum(generated) / len(generated), 4)
    if args.paired_with:
        other = training_split_reports(args.paired_with, split, args.seed)
        out["paired_with"] = args.paired_with.name
        out["AP50_minus_default_90pct"] = {
            name.removesuffix(" m"): {
                cls: [round(x, 4) for x in interval]
                for cls, interval in paired_intervals(rep, other[name]).items()
            }
            for name, rep in reports.items()
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
