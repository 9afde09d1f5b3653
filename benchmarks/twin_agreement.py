"""How closely a release's int8 twin follows its fp32 network, from the figures of
`training_split_ap.py` (both twins on the same scenes): per row (real small and large vehicles,
the four generated classes, each at 0.3 and 0.5 m) |AP50 int8 - AP50 fp32|, and their mean. An
int8 twin is the fp32 network made faster; where its figures wander from fp32's (a CPU whose
int8 arithmetic saturates, say: train/export.py), it is another model. With several versions,
also the largest difference between their fp32 networks (a re-release of the same weights
should show none).

    .venv/bin/python benchmarks/twin_agreement.py FOLDER VERSION [VERSION ...] > agreement.json

FOLDER holds `sitewatch-det-<version>.json` and `sitewatch-det-<version>-int8.json`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROWS = [(s, c) for s in ("real 0.3", "real 0.5") for c in ("small_vehicle", "large_vehicle")] + [
    (s, c)
    for s in ("generated 0.3", "generated 0.5")
    for c in ("large_vehicle", "rail_car", "crane", "container")
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("versions", nargs="+")
    args = ap.parse_args()

    def figures(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(
            (args.folder / f"sitewatch-det-{name}.json").read_text()
        )
        return loaded

    out: dict[str, Any] = {"rows": [f"{s} m {c}" for s, c in ROWS]}
    fp32 = {v: figures(v) for v in args.versions}
    for v in args.versions:
        int8 = figures(f"{v}-int8")
        diffs = [round(abs(int8[s][c] - fp32[v][s][c]), 4) for s, c in ROWS]
        out[v] = {"abs_int8_minus_fp32": diffs, "mean": round(sum(diffs) / len(diffs), 4)}
    if len(args.versions) > 1:
        first = fp32[args.versions[0]]
        out["largest_fp32_difference"] = round(
            max(abs(f[s][c] - first[s][c]) for f in fp32.values() for s, c in ROWS), 4
        )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
