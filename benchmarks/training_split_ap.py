"""AP50 of a detector on its *training* split, the figures detector adoption rules are stated on
(never the held-out split): real training frames, and generated objects (seed 7) on every second
training frame and the training backgrounds, at 0.3 m and 0.5 m (`train.release.
training_split_reports`, the same sets the operating thresholds are calibrated on).

    .venv/bin/python benchmarks/training_split_ap.py MODEL CONFIG > figures.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sitewatch.core.models import ObjectClass
from sitewatch.train.config import load_train_config
from sitewatch.train.data import load_split
from sitewatch.train.release import training_split_reports


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("config", type=Path)
    args = ap.parse_args()
    reports = training_split_reports(args.model, load_split(load_train_config(args.config)))
    out: dict[str, object] = {"model": args.model.name}
    generated = []
    for name, rep in reports.items():
        out[name.removesuffix(" m")] = {cls: round(r["AP50"], 4) for cls, r in rep.items()}
        if name.startswith("generated"):
            generated += [
                r["AP50"] for cls, r in rep.items() if cls != ObjectClass.SMALL_VEHICLE.value
            ]
    out["mean_generated_AP50"] = round(sum(generated) / len(generated), 4)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
