"""Whether two detectors give the same training-split figures: the rule of a re-release that
must compute what the release before it computed (a new export of the same weights, say;
configs/train-det-0.15.2.yaml). Reads two outputs of `training_split_ap.py` made on the same
scenes and writes, for each of the 12 AP50 rows (real small and large vehicles, the four
generated classes; 0.3 and 0.5 m), the difference, and whether every row is within `--within`
(0: equal to every digit written).

    .venv/bin/python benchmarks/same_figures.py CANDIDATE.json DEFAULT.json [--within 0.005]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROWS = {
    "real 0.3": ("small_vehicle", "large_vehicle"),
    "real 0.5": ("small_vehicle", "large_vehicle"),
    "generated 0.3": ("large_vehicle", "rail_car", "crane", "container"),
    "generated 0.5": ("large_vehicle", "rail_car", "crane", "container"),
}


def compare(new: dict[str, Any], old: dict[str, Any], within: float) -> dict[str, Any]:
    """Per-row differences (new minus old) and whether all lie within `within`."""
    if new.get("seed") != old.get("seed"):
        raise SystemExit(f"different scenes: seeds {new.get('seed')} and {old.get('seed')}")
    diffs = {
        f"{s} {c}": round(float(new[s][c]) - float(old[s][c]), 4)
        for s, classes in ROWS.items()
        for c in classes
    }
    return {
        "candidate": new["model"],
        "default": old["model"],
        "seed": new["seed"],
        "within": within,
        "differences": diffs,
        "largest": max(abs(d) for d in diffs.values()),
        "holds": all(abs(d) <= within for d in diffs.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("candidate", type=Path)
    ap.add_argument("default", type=Path)
    ap.add_argument("--within", type=float, default=0.0)
    args = ap.parse_args()
    new, old = (json.loads(p.read_text()) for p in (args.candidate, args.default))
    print(json.dumps(compare(new, old, args.within), indent=1))


if __name__ == "__main__":
    main()
