"""Cell-level quality of a sitewatch model's extent masks on generated training-split crops:
precision and recall of mask > 0.5 against footprint coverage > 0.5, per mask class, on cells
where the footprint is known (real axis-aligned labels of a mask class give none). A diagnosis
of the footprint decodings (detect/decode.py), not an adoption figure.

    .venv/bin/python benchmarks/mask_quality.py MODEL CONFIG [--crops 40] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sitewatch.detect.onnx import load_detector
from sitewatch.train.config import load_train_config
from sitewatch.train.data import load_split
from sitewatch.train.dataset import SampleSource, footprint_cells

CROP_PX = 384


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("config", type=Path)
    ap.add_argument("--crops", type=int, default=40)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    config = load_train_config(args.config)
    detector = load_detector(args.model)
    spec = detector.spec
    if not spec.mask_classes:
        raise SystemExit(f"{args.model}: the model has no extent masks")
    split = load_split(config)
    source = SampleSource(
        split.train,
        split.train_backgrounds,
        config.gsd_levels_m,
        CROP_PX,
        1.0,
        seed=args.seed,
        work_gsd_m=config.work_gsd_m,
        mask_classes=spec.mask_classes,
    )
    s_ = spec.stride
    counts = np.zeros((len(spec.mask_classes), 3), dtype=np.int64)  # tp, fp, fn
    for _ in range(args.crops):
        sample = source.sample()
        masks = detector.raw_outputs(sample.image[None])[2][0]
        coverage, known = footprint_cells([sample], s_)
        truth = coverage[0] > 0.5
        known = known[0] & sample.valid[::s_, ::s_][None]
        pred = masks > 0.5
        counts[:, 0] += (pred & truth & known).sum((1, 2))
        counts[:, 1] += (pred & ~truth & known).sum((1, 2))
        counts[:, 2] += (~pred & truth & known).sum((1, 2))
    out: dict[str, object] = {"model": args.model.name, "crops": args.crops, "seed": args.seed}
    for cls, (tp, fp, fn) in zip(spec.mask_classes, counts.tolist(), strict=True):
        out[cls.value] = {
            "true_cells": tp + fn,
            "precision": round(tp / max(1, tp + fp), 3),
            "recall": round(tp / max(1, tp + fn), 3),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
