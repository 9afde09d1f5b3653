"""The detection conditions of a detector adoption rule, read from the figures of
`training_split_ap.py` for a candidate and the default on the same fresh scenes, fp32 and int8
twins alike (the rules in configs/train-det-*.yaml). Writes the differences and which
conditions hold; the speed and alerting conditions are measured by their own benchmarks
(bench_detect.py, bench_alerts.py) and added to the record by hand.

    .venv/bin/python benchmarks/adoption_record.py FOLDER CANDIDATE DEFAULT --config CONFIG \
        --seed N [N ...] [--focus CLASS] [--focus-rule higher|not-lower|within] [--rule FILE] \
        [--int8-default VERSION] [--mean-drop 0.01] > FOLDER/../adoption-training-split.json

With several seeds, FOLDER holds one folder `seed<N>` per seed with those files, and the
conditions are read on the mean over the seeds of each figure: one draw of scenes moves a class's
difference by a standard deviation of 0.01-0.06 (`detector-experiments/det-0.28.0/seed-spread/`),
as much as the tolerances, and the mean of k draws by about 1/sqrt(k) of that. The record also
gives each seed's differences, for information.

`--config` is the configuration whose split the scenes were drawn on; `--rule` the one that states
the rule (the same file unless named); `--int8-default` the version whose int8 twin the
candidate's is compared with (the default's unless named: a re-quantised twin of the same
weights, say). Where the candidate's figures were made with
`training_split_ap.py --paired-with DEFAULT`, the record adds their paired 90% bootstrap
intervals of each difference, for information: the conditions are read on the differences.

The focus class (large_vehicle unless named) must be higher (or not lower, or, with `within`,
not lower by more than 0.03, as the others) at both GSDs; the other generated classes may fall
by at most 0.03. FOLDER holds `sitewatch-det-<version>.json` and `sitewatch-det-<version>-int8.json` for both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

GENERATED = ("large_vehicle", "rail_car", "crane", "container")
ALLOWED_DROP = 0.03
ALLOWED_CAR_DROP = 0.02


def conditions(
    new: dict[str, Any],
    old: dict[str, Any],
    rule: str,
    focus: str = "large_vehicle",
    mean_drop: float = 0.0,
) -> dict[str, Any]:
    """Differences (candidate minus default) per condition, and whether each holds. The mean
    generated AP50 must be higher, or with `mean_drop` not lower by more than that."""
    gens = ("generated 0.3", "generated 0.5")
    mean = round(new["mean_generated_AP50"] - old["mean_generated_AP50"], 4)
    if mean_drop:
        name = f"mean generated AP50 not lower by more than {mean_drop:g}"
        diff: dict[str, Any] = {name: mean}
        holds: dict[str, bool] = {name: mean >= -mean_drop}
    else:
        diff = {"mean generated AP50 higher": mean}
        holds = {"mean generated AP50 higher": mean > 0}
    wording = {"higher": "higher", "not-lower": "not lower"}.get(rule, f"within {ALLOWED_DROP}")
    focus_name = f"{focus} {wording} at both GSDs"
    d = [round(new[g][focus] - old[g][focus], 4) for g in gens]
    diff[focus_name] = d
    floor = {"higher": None, "not-lower": 0.0}.get(rule, -ALLOWED_DROP)
    holds[focus_name] = all(x > 0 for x in d) if floor is None else all(x >= floor for x in d)
    for cls in (c for c in GENERATED if c != focus):
        name = f"{cls} not lower by more than {ALLOWED_DROP}"
        d = [round(new[g][cls] - old[g][cls], 4) for g in gens]
        diff[name], holds[name] = d, all(x >= -ALLOWED_DROP for x in d)
    name = f"small_vehicle (real) not lower by more than {ALLOWED_CAR_DROP}"
    d = [
        round(new[r]["small_vehicle"] - old[r]["small_vehicle"], 4)
        for r in ("real 0.3", "real 0.5")
    ]
    diff[name], holds[name] = d, all(x >= -ALLOWED_CAR_DROP for x in d)
    return {"differences": diff, "holds": holds}


def figures(folder: Path, seeds: list[int], name: str) -> dict[str, Any]:
    """A model's training-split figures: FOLDER/NAME for one seed; for several, the mean over
    FOLDER/seed<N>/NAME of every AP50 and of the mean generated AP50."""
    if len(seeds) == 1:
        return dict(json.loads((folder / name).read_text()))
    runs = [json.loads((folder / f"seed{s}" / name).read_text()) for s in seeds]
    out: dict[str, Any] = {
        "mean_generated_AP50": sum(r["mean_generated_AP50"] for r in runs) / len(runs)
    }
    for key, value in runs[0].items():
        if isinstance(value, dict) and key.startswith(("generated", "real")):
            out[key] = {c: sum(r[key][c] for r in runs) / len(runs) for c in value}
    return out


def judged(
    folder: Path, seeds: list[int], names: tuple[str, str], rule: str, focus: str, mean_drop: float
) -> dict[str, Any]:
    """The conditions on the figures of the candidate and the default (their file `names`)."""
    new, old = (figures(folder, seeds, name) for name in names)
    return conditions(new, old, rule, focus, mean_drop)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("candidate", help="version, e.g. 0.10.0")
    ap.add_argument("default", help="version, e.g. 0.9.0")
    ap.add_argument("--config", required=True)
    ap.add_argument("--seed", type=int, nargs="+", required=True)
    ap.add_argument("--focus", choices=GENERATED, default="large_vehicle")
    ap.add_argument(
        "--focus-rule",
        "--large-vehicle",
        choices=("higher", "not-lower", "within"),
        default="higher",
    )
    ap.add_argument("--rule", help="the configuration that states the rule (default: --config)")
    ap.add_argument(
        "--mean-drop",
        type=float,
        default=0.0,
        help="the mean generated AP50 may fall by this much (0: it must be higher)",
    )
    ap.add_argument(
        "--int8-default", help="the version whose int8 twin the candidate's is compared with"
    )
    args = ap.parse_args()
    rule = args.rule or args.config
    seeds = " ".join(str(s) for s in args.seed)
    out: dict[str, Any] = {
        "rule": f"{rule} (stated before the run; each condition on fp32 and int8 alike)",
        "command": f".venv/bin/python benchmarks/training_split_ap.py MODEL {args.config} "
        f"--seed {seeds}" + (" (once per seed)" if len(args.seed) > 1 else ""),
        "split": f"training split, fresh generated scenes (seed {seeds}; thresholds are "
        "calibrated on seed 7): real training frames; generated objects on every second "
        "training frame and the training backgrounds; 0.3 m and 0.5 m",
    }
    every = True
    rule_args = (args.focus_rule, args.focus, args.mean_drop)
    for twin, suffix, default in (
        ("fp32", "", args.default),
        ("int8", "-int8", args.int8_default or args.default),
    ):
        names = (
            f"sitewatch-det-{args.candidate}{suffix}.json",
            f"sitewatch-det-{default}{suffix}.json",
        )
        new, old = (figures(args.folder, args.seed, name) for name in names)
        result = conditions(new, old, *rule_args)
        if len(args.seed) > 1:
            out[f"per_seed_differences_{twin}"] = {
                str(seed): judged(args.folder / f"seed{seed}", [seed], names, *rule_args)[
                    "differences"
                ]
                for seed in args.seed
            }
        out[f"differences_{args.candidate}_minus_{default}_{twin}"] = result["differences"]
        out[f"holds_{twin}"] = result["holds"]
        if new.get("paired_with") == f"sitewatch-det-{default}{suffix}.onnx":
            out[f"paired_90pct_intervals_{twin}"] = new["AP50_minus_default_90pct"]
        every &= all(result["holds"].values())
    out["detection_conditions_hold"] = every
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
