"""Pixel-change quality on the shared labelled pairs (LEVIR-CD, DSIFN-CD, OSCD).

No parameter is fitted to any of these sets: the method runs with the documented defaults of
sitewatch.change.pixels (its threshold is Otsu's, per image). One design choice, an Otsu threshold
rather than a robust-sigma one, was made after comparing both on all three sets; the figures
are therefore not strictly held out from that choice.

Usage: python benchmarks/eval_change.py [--data ../shared/data] [--out benchmarks/results/change]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image

from sitewatch.change.pixels import PixelChangeOptions, detect_change


def _png(path: Path) -> np.ndarray[Any, Any]:
    a = np.asarray(Image.open(path).convert("RGB"))
    return np.moveaxis(a, -1, 0)


def pairs_rgb(
    folder: Path,
) -> list[tuple[str, np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    out = []
    for a in sorted((folder / "A").glob("*.png")):
        b = folder / "B" / a.name
        lab = folder / "label" / a.name
        if not b.exists() or not lab.exists():
            continue
        mask = np.asarray(Image.open(lab).convert("L")) > 127
        out.append((a.stem, _png(a), _png(b), mask))
    return out


def oscd_cities(
    folder: Path,
) -> list[tuple[str, np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    out = []
    for city in sorted(p for p in folder.iterdir() if p.is_dir()):
        imgs = []
        for sub in ("imgs_1", "imgs_2"):
            bands = []
            for b in ("B04", "B03", "B02", "B08"):
                [f] = sorted((city / sub).glob(f"*_{b}.tif"))
                with rasterio.open(f) as ds:
                    bands.append(ds.read(1).astype(np.float32))
            imgs.append(np.stack(bands))
        with rasterio.open(city / "cm" / f"{city.name}-cm.tif") as ds:
            cm = ds.read(1)
        out.append((city.name, imgs[0], imgs[1], cm == 2))
    return out


def scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "iou": round(iou, 4),
    }


def evaluate(items: list[Any], opts: PixelChangeOptions) -> dict[str, Any]:
    tp = fp = fn = 0
    per = {}
    for name, a, b, truth in items:
        valid = np.ones(truth.shape, dtype=bool)
        pred = detect_change(a, b, valid, opts).changed
        t, f, n = int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())
        tp, fp, fn = tp + t, fp + f, fn + n
        per[name] = scores(t, f, n)
    return {"pooled": scores(tp, fp, fn), "per_item": per, "pairs": len(items)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/change"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    dsifn = pairs_rgb(args.data / "dsifn_cd_samples")
    levir = pairs_rgb(args.data / "levir_cd_samples_bit")
    oscd = oscd_cities(args.data / "oscd_onera")
    rgb = PixelChangeOptions()
    nir = replace(rgb, nir_band=3, red_band=0, min_area_px=4)
    results = {
        "split": "no parameter fitted to these sets; all pairs evaluated (see module docstring)",
        "options_rgb": rgb.to_params(),
        "options_oscd": nir.to_params(),
        "dsifn_cd": evaluate(dsifn, rgb),
        "levir_cd": evaluate(levir, rgb),
        "oscd": evaluate(oscd, nir),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Pixel change on labelled pairs",
        "",
        "Command: `make eval-change` (benchmarks/eval_change.py). Method: sitewatch.change.pixels "
        "(unsupervised; no model trained on these sets).",
        "",
        "Split: no parameter is fitted to these sets; every pair is evaluated. The choice of an "
        "Otsu threshold over a robust-sigma one was made after comparing both on all three sets.",
        "",
        "| set | GSD | pairs | target F1 | precision | recall | F1 | IoU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = (("levir_cd", "0.5 m", ">= 0.8"), ("dsifn_cd", "~2 m", "-"), ("oscd", "10 m", ">= 0.5"))
    for key, gsd, target in rows:
        r = results[key]
        p = r["pooled"]
        lines.append(
            f"| {key} | {gsd} | {r['pairs']} | {target} | {p['precision']} | {p['recall']} "
            f"| {p['f1']} | {p['iou']} |"
        )
    lines += [
        "",
        "Pixels pooled over the pairs of each set. Per-pair figures are in eval.json.",
        "",
    ]
    (args.out / "eval.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
