"""Release of a trained checkpoint: fp32 ONNX, int8 ONNX and a model card (Markdown).

The card states the classes, the GSD range, the training data and their licences, what was
generated, the compute cost (GFLOPs per megapixel) and the held-out metrics when an evaluation
(`sitewatch eval-detector`) has been written to `benchmarks/results/detector/eval.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sitewatch.core.models import ObjectClass
from sitewatch.train.config import TrainConfig
from sitewatch.train.data import load_split
from sitewatch.train.dataset import SampleSource
from sitewatch.train.export import default_spec, export_onnx, quantize_int8

OPERATING_THRESHOLD = 0.3
CALIBRATION_CROPS = 48
EVAL_JSON = Path("benchmarks/results/detector/eval.json")


def export_release(
    config: TrainConfig, checkpoint: Path, out_dir: Path, log: Callable[[str], None]
) -> list[Path]:
    """Write `<name>-<version>.onnx`, `<name>-<version>-int8.onnx` and `<name>-<version>.md`."""
    import torch

    from sitewatch.train.model import SiteDet, gflops_per_megapixel

    stem = f"{config.name}-{config.version}"
    thresholds = {c: OPERATING_THRESHOLD for c in ObjectClass}
    fp32 = out_dir / f"{stem}.onnx"
    int8 = out_dir / f"{stem}-int8.onnx"
    spec = default_spec(fp32, stem, config.gsd_range_m, thresholds)
    export_onnx(checkpoint, fp32, spec)
    log(f"exported {fp32}")
    split = load_split(config)
    source = SampleSource(
        split.train[::3], split.train_backgrounds, [0.3, 0.5], config.crop_px, seed=99
    )
    crops = [source.sample().image for _ in range(CALIBRATION_CROPS)]
    int8_spec = default_spec(int8, f"{stem}-int8", config.gsd_range_m, thresholds)
    quantize_int8(fp32, int8, int8_spec, crops)
    log(f"quantised {int8}")
    state = torch.load(checkpoint, map_location="cpu")
    model = SiteDet()
    model.load_state_dict(state["model"])
    gflops = gflops_per_megapixel(model)
    card = out_dir / f"{stem}.md"
    card.write_text(model_card(config, stem, gflops, int(state["step"]), split))
    log(f"wrote {card}")
    return [fp32, int8, card]


def model_card(config: TrainConfig, stem: str, gflops: float, steps: int, split: object) -> str:
    """The Markdown model card."""
    from sitewatch.train.data import Split

    assert isinstance(split, Split)
    data_rows = "\n".join(
        f"| {d.name} | {d.format} | {d.gsd_m} | `{d.val_pattern}` | {d.licence} |"
        for d in config.datasets
    )
    bg_rows = "\n".join(
        f"| {b.name} | {b.gsd_m} | `{b.val_pattern}` | {b.licence} |" for b in config.backgrounds
    )
    estimates = ", ".join(f"{k}: {v:.4f} m" for k, v in split.gsd_estimates.items()) or "none"
    metrics = "No evaluation recorded yet: run `sitewatch eval-detector`."
    if EVAL_JSON.exists():
        doc = json.loads(EVAL_JSON.read_text())
        rows = []
        for setting, rep in doc["results"].items():
            for cls, r in rep.items():
                mape = "-" if r["count_MAPE"] is None else f"{r['count_MAPE']:.1%}"
                rows.append(
                    f"| {setting} | {cls} | {r['objects']} | {r['AP50']:.3f} | {r['AP50_95']:.3f} "
                    f"| {r['precision']:.3f} | {r['recall']:.3f} | {r['count_MAE']:.2f} | {mape} |"
                )
        metrics = (
            f"Evaluated model: `{doc['model']}` (sha256 `{doc['model_sha256'][:16]}`).\n\n"
            "| setting | class | objects | AP50 | AP50:95 | P | R | count MAE | count MAPE |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
        )
    return f"""# Model card: {stem}

- **What:** an anchor-free oriented-box detector (centre heatmap, output stride 2) for
  small_vehicle, large_vehicle, rail_car, crane and container in satellite images.
- **Files:** `{stem}.onnx` (fp32) and `{stem}-int8.onnx` (static int8, QDQ, per-channel
  weights; heads kept in float). Inputs: float32 RGB 0-255, (N, 3, H, W), H and W multiples of 32.
  Outputs: `peaks` (N, 5, H/2, W/2) class scores at local maxima; `boxes` (N, 6, H/2, W/2).
- **GSD range:** {config.gsd_range_m[0]}-{config.gsd_range_m[1]} m. Finer imagery is averaged
  down to {config.gsd_range_m[0]} m on read; coarser imagery is refused unless forced.
- **Operating threshold:** {OPERATING_THRESHOLD} for every class (fixed, not tuned on the
  validation split).
- **Compute:** {gflops:.2f} GFLOPs per megapixel of input (convolutions, multiply-add = 2 FLOPs).
- **Training:** from scratch (no pretrained weights), {steps} steps of {config.batch} crops of
  {config.crop_px} px, AdamW, peak learning rate {config.lr}, on the CPU. Configuration:
  `configs/train-det.yaml`; command: `sitewatch train configs/train-det.yaml --export-to models`.

## Training data

Only data that may ship, plus generated objects.

| data set | format | GSD (m) | held out (pattern on frame name) | licence |
|---|---|---|---|---|
{data_rows}

GSD estimated from car lengths (4.5 m): {estimates}. Frames are resampled to
{", ".join(f"{g:g}" for g in config.gsd_levels_m)} m (area average and a Gaussian PSF) and
augmented (90-degree rotations, flips, colour, haze, noise, JPEG).

Backgrounds for generated objects (their own vehicles are not labelled and are masked out of the
loss):

| background | GSD (m) | held out | licence |
|---|---|---|---|
{bg_rows}

**Generated data.** There are no public overhead labels for rail cars, cranes and containers that
may ship. Those classes, and extra large vehicles, are learned from objects generated by
`sitewatch.train.synth` (oriented parts with plausible sizes, colours and sun-consistent shadows)
drawn onto the real frames and backgrounds above. Figures for those classes below come from
generated objects on held-out backgrounds and say nothing yet about real rail cars, cranes or
containers.

## Metrics (held-out split)

{metrics}

Split: validation frames are whole places or flight sequences (see the patterns above), never
random frames. Details and PR curves: `benchmarks/results/detector/`.

## Limits

- Small vehicles are learned from two European street data sets (Munich aerial, Minsk drone),
  resampled to satellite GSD: parking lots, deserts and snow are not represented.
- Orientation of real vehicles is learned only through their axis-aligned boxes (the box's
  envelope is supervised); oriented supervision comes from generated objects.
"""
