"""Release of a trained checkpoint: fp32 ONNX, int8 ONNX and a model card (Markdown).

The card states the classes, the GSD range, the training data and their licences, what was
generated, the compute cost (GFLOPs per megapixel) and the held-out metrics when an evaluation
(`sitewatch eval-detector`) has been written to `benchmarks/results/detector/eval.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.core.models import ObjectClass
from sitewatch.detect.calibration import Knots, fit_isotonic, write_calibration
from sitewatch.detect.spec import ModelSpec
from sitewatch.train.config import TrainConfig
from sitewatch.train.data import load_split
from sitewatch.train.dataset import SampleSource
from sitewatch.train.export import (
    default_spec,
    export_onnx,
    quantize_int8,
    released_weights,
    write_spec,
)

OPERATING_THRESHOLD = 0.3
CALIBRATION_SEED = 7  # the generated training-split scenes thresholds are calibrated on
CALIBRATION_CROPS = 48
EVAL_JSON = Path("benchmarks/results/detector/eval.json")


def export_release(
    config: TrainConfig,
    checkpoint: Path,
    out_dir: Path,
    log: Callable[[str], None],
    config_path: Path | None = None,
) -> list[Path]:
    """Write `<name>-<version>.onnx`, `<name>-<version>-int8.onnx` and `<name>-<version>.md`.

    `config_path` is named in the card, with the command that made the release.
    """
    import torch

    from sitewatch.train.model import build_model, gflops_per_megapixel

    stem = f"{config.name}-{config.version}"
    fp32 = out_dir / f"{stem}.onnx"
    int8 = out_dir / f"{stem}-int8.onnx"
    split = load_split(config)

    def spec_of(path: Path, name: str, thresholds: dict[ObjectClass, float]) -> ModelSpec:
        return default_spec(
            path,
            name,
            config.gsd_range_m,
            thresholds,
            work_gsd_m=config.work_gsd_m,
            mask_classes=config.mask_classes,
            footprint_required=config.footprint_required,
            footprint_axis=config.footprint_axis,
            min_length_m=config.min_length_m,
        )

    spec = spec_of(fp32, stem, {c: OPERATING_THRESHOLD for c in ObjectClass})
    export_onnx(checkpoint, fp32, spec)
    reports = list(training_split_reports(fp32, split).values())
    thresholds = calibrate_thresholds(reports)
    knots = calibrate_scores(reports)
    log(
        "operating thresholds (best F1 on the training split): "
        + ", ".join(f"{c.value} {t:.2f}" for c, t in thresholds.items())
    )
    spec = spec_of(fp32, stem, thresholds)
    write_spec(fp32, spec)
    log(f"exported {fp32}")
    source = SampleSource(
        split.train[::3], split.train_backgrounds, [0.3, 0.5], config.crop_px, seed=99
    )
    crops = [source.sample().image for _ in range(CALIBRATION_CROPS)]
    int8_spec = spec_of(int8, f"{stem}-int8", thresholds)
    log(f"quantising {int8}")
    quantize_int8(fp32, int8, int8_spec, crops)
    log(f"quantised {int8}")
    for m in (fp32, int8):
        write_calibration(m, knots, CALIBRATION_NOTE + " (fp32 scores)")
    state = torch.load(checkpoint, map_location="cpu")
    model = build_model(state.get("config", {}))
    model.load_state_dict(released_weights(state))
    gflops = gflops_per_megapixel(model)
    card = out_dir / f"{stem}.md"
    command = f"sitewatch train {config_path} --export-to {out_dir}" if config_path else None
    card.write_text(
        model_card(config, stem, gflops, int(state["step"]), split, thresholds, command)
    )
    log(f"wrote {card}")
    return [fp32, int8, card]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def training_split_reports(
    model: Path, split: object, seed: int = CALIBRATION_SEED
) -> dict[str, dict[str, Any]]:
    """Evaluation reports of a model on the *training* split, by set ("real 0.3 m",
    "generated 0.3 m", "real 0.5 m", "generated 0.5 m"): real frames, and generated objects
    (drawn with `seed`) on every second training frame and the training backgrounds. The
    validation split is never used. Operating thresholds are calibrated on CALIBRATION_SEED's
    scenes; another seed gives fresh scenes to compare models on."""
    from sitewatch.detect.onnx import load_detector
    from sitewatch.detect.run import DetectOptions
    from sitewatch.train.data import Split
    from sitewatch.train.evaluate import evaluate, generated_eval_set, real_eval_set

    assert isinstance(split, Split)
    detector = load_detector(model, score_floor=0.05)
    options = DetectOptions(overlap_px=64)
    low = {c: 0.0 for c in ObjectClass}
    reports = {}
    for gsd in (0.3, 0.5):
        real = real_eval_set(split.train, gsd)
        generated = generated_eval_set(split.train[::2] + split.train_backgrounds, gsd, seed=seed)
        reports[f"real {gsd:g} m"] = evaluate(detector, real, options, low)
        reports[f"generated {gsd:g} m"] = evaluate(detector, generated, options, low)
    return reports


def calibrate_thresholds(reports: Iterable[dict[str, Any]]) -> dict[ObjectClass, float]:
    """Per-class operating thresholds: the score of best F1 (IoU 0.5) on the training split,
    averaged over its evaluation sets."""
    found: dict[ObjectClass, list[float]] = {c: [] for c in ObjectClass}
    for rep in reports:
        for cls, r in rep.items():
            found[ObjectClass(cls)].append(float(r["best_f1_threshold"]))
    return {
        c: round(float(np.clip(np.mean(v), 0.1, 0.9)), 2) if v else OPERATING_THRESHOLD
        for c, v in found.items()
    }


def calibrate_scores(reports: Iterable[dict[str, Any]]) -> dict[ObjectClass, Knots]:
    """Per-class isotonic score calibration, pooled over the training split's evaluation sets."""
    pooled: dict[ObjectClass, tuple[list[float], list[bool]]] = {}
    for rep in reports:
        for cls, r in rep.items():
            scores, hits = r["scored"]
            xs, ys = pooled.setdefault(ObjectClass(cls), ([], []))
            xs.extend(float(v) for v in scores)
            ys.extend(bool(v) for v in hits)
    return {
        c: fit_isotonic(np.array(xs), np.array(ys, dtype=bool))
        for c, (xs, ys) in pooled.items()
        if xs
    }


CALIBRATION_NOTE = (
    "isotonic calibration of scores (IoU 0.5 true positives) on the training split at 0.3 m and "
    "0.5 m, real frames plus generated objects; fitted on data the model was trained on, so the "
    "probabilities may be optimistic"
)


def metrics_section(eval_json: Path) -> str:
    """The model card's held-out metrics: the table of an `eval-detector` JSON."""
    if not eval_json.exists():
        return "No evaluation recorded yet: run `sitewatch eval-detector`."
    doc = json.loads(eval_json.read_text())
    rows = []
    for setting, rep in doc["results"].items():
        for cls, r in rep.items():
            mape = "-" if r["count_MAPE"] is None else f"{r['count_MAPE']:.1%}"
            interval = (
                "-" if "AP50_interval" not in r else "{:.2f}-{:.2f}".format(*r["AP50_interval"])
            )
            rows.append(
                f"| {setting} | {cls} | {r['objects']} | {r['AP50']:.3f} | {interval} "
                f"| {r['AP50_95']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} "
                f"| {r['count_MAE']:.2f} | {mape} |"
            )
    from sitewatch.train.evaluate import REAL_IGNORED

    ignored = any(REAL_IGNORED in setting for setting in doc["results"])
    return (
        f"Evaluated model: `{doc['model']}` (sha256 `{doc['model_sha256'][:16]}`). AP50 90%: a "
        "bootstrap interval over the images."
        + (
            " Rows *real ignored*: the real objects of that class in the frames under the "
            "generated ones left out, COCO-style (generated objects alone)."
            if ignored
            else ""
        )
        + (
            f" Generated rows pool {doc['generated_draws']} draws of generated objects on the "
            "same held-out frames."
            if doc.get("generated_draws", 1) > 1
            else ""
        )
        + "\n\n"
        "| setting | class | objects | AP50 | AP50 90% | AP50:95 | P | R | count MAE | count MAPE |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


def _work_text(work_gsd_m: float | None) -> str:
    if work_gsd_m is None:
        return "imagery "
    return (
        f"imagery coarser than the working GSD {work_gsd_m:g} m is interpolated (bilinear) up to "
        "it on read, so that a vehicle spans the pixels the network resolves best; imagery "
    )


def _per_class(values: Mapping[ObjectClass, float], unit: str = "") -> str:
    """ "crane 8 m, large_vehicle 3": a per-class setting as a model card prints it."""
    return ", ".join(f"{c.value} {v:g}{unit}" for c, v in values.items())


def model_card(
    config: TrainConfig,
    stem: str,
    gflops: float,
    steps: int,
    split: object,
    thresholds: dict[ObjectClass, float],
    command: str | None = None,
) -> str:
    """The Markdown model card; `command` is how the release was made."""
    made_by = f"\n  Made by: `{command}`." if command else ""
    note = f"\n- **Release note:** {config.release_note}" if config.release_note else ""
    thresholds_text = ", ".join(f"{c.value} {t:.2f}" for c, t in thresholds.items())
    continued = ""
    if (
        config.continue_step is not None
        and config.continue_from is not None
        and config.average_with
    ):
        names = [f"`{p.name}`" for p in [config.continue_from, *config.average_with]]
        continued = (
            f" Continued from the uniform mean of the released models "
            f"{', '.join(names[:-1])} and {names[-1]} (of their folded convolutions), counted "
            f"as step {config.continue_step}, with a fresh optimiser; see those models' cards "
            "for their training."
        )
    elif config.continue_step is not None and config.continue_from is not None:
        at = (
            "with a fresh learning-rate schedule (counted from step 0)"
            if config.continue_step == 0
            else f"at step {config.continue_step}"
        )
        continued = (
            f" Continued from the released model `{config.continue_from.name}` {at} (its "
            "weights, a fresh optimiser; see that model's card for the first steps)."
        )
    elif config.continue_from is not None:
        continued = (
            f" Continued from the checkpoint `{config.continue_from.parent.name}/"
            f"{config.continue_from.name}` (a warm restart of the cosine schedule; see that run's "
            "configuration for the first steps)."
        )
    from sitewatch.train.data import Split

    assert isinstance(split, Split)
    data_rows = "\n".join(
        f"| {d.name} | {d.format} | {d.gsd_m} | `{_cell(d.val_pattern)}` | {d.licence} |"
        for d in config.datasets
    )
    bg_rows = "\n".join(
        f"| {b.name} | {b.gsd_m} | `{_cell(b.val_pattern)}` | {b.licence} |"
        for b in config.backgrounds
    )
    estimates = "; ".join(f"{k}: {v}" for k, v in split.gsd_estimates.items()) or "none"
    metrics = metrics_section(EVAL_JSON)
    masks_text = (
        f"\n  `masks` (N, {len(config.mask_classes)}, H/2, W/2): per cell, the probability of "
        f"lying on the footprint of a {', '.join(c.value for c in config.mask_classes)}; the "
        "boxes of those classes are taken from the footprint around their peak"
        + (
            f" (for {', '.join(c.value for c in config.footprint_axis)} only a longer length, "
            "along the regressed axis)."
            if config.footprint_axis
            else "."
        )
        + (
            f" Peaks of {', '.join(c.value for c in config.footprint_required)} on no "
            "footprint are dropped (footprint required)."
            if config.footprint_required
            else ""
        )
        if config.mask_classes
        else ""
    ) + (
        " After tiling, boxes shorter than their class's shortest object are dropped ("
        + _per_class(config.min_length_m, " m")
        + ")."
        if config.min_length_m
        else ""
    )
    warp_text = (
        (
            f", {config.background_warp:.0%} of crops warped backgrounds (any angle, scale 0.75-1.33)"
            if config.background_warp
            else ""
        )
        + (
            ", generated classes drawn with weights "
            + _per_class(config.generated_weights)
            + " (others 1)"
            if config.generated_weights
            else ""
        )
        + (
            f", {config.colour_jitter:.0%} of crops given another sensor's colours (bands mixed,"
            " saturation 0-1.5, gamma)"
            if config.colour_jitter
            else ""
        )
        + (
            f", {config.vehicle_rows:.0%} of generated large vehicles drawn as rows parked side by"
            " side"
            if config.vehicle_rows
            else ""
        )
        + (
            f", {config.moorings:.0%} of crops with generated objects given an unlabelled mooring"
            " of boats (negatives)"
            if config.moorings
            else ""
        )
        + (
            f", {config.quay_vehicles:.0%} of those moorings with large vehicles parked on the quay"
            if config.moorings and config.quay_vehicles
            else ""
        )
        + (
            ", generated large vehicles also in yellow, tan, orange, green and brown"
            if config.wide_palette
            else ""
        )
        + (
            f", {config.angled_rows:.0%} of those rows parked in angled bays"
            if config.vehicle_rows and config.angled_rows
            else ""
        )
    )
    if config.continue_step is not None and config.continue_step >= config.steps:
        # no step of its own: the settings above are those of the run it continues
        ema_text = " Released weights: those it started from, unchanged (no training step)."
    elif config.ema_decay:
        ema_text = (
            f" Released weights: the moving average of the weights over training (decay "
            f"{config.ema_decay:g}), not the last step's."
        )
    else:
        ema_text = ""
    long_text = (
        "Long objects: the encoder sees about 150 px around a centre, less than a 40-90 m crane "
        f"at 0.3 m, so {', '.join(c.value for c in config.mask_classes)} boxes come from the "
        "footprint the extent mask finds around a peak; the figures above come from generated "
        "objects only, and real ones (lattice jibs, shadows across roofs) may differ."
        if config.mask_classes
        else "Long objects are weak: the encoder sees about 150 px around a centre, less than "
        "a 40-90 m\n  crane at 0.3 m, and no crane is found."
    )
    return f"""# Model card: {stem}

- **What:** an anchor-free oriented-box detector (centre heatmap, output stride 2) for
  small_vehicle, large_vehicle, rail_car, crane and container in satellite images.
- **Files:** `{stem}.onnx` (fp32) and `{stem}-int8.onnx` (static int8, QDQ, per-channel
  7-bit weights, so that CPUs without VNNI do not saturate; heads kept in float). Inputs: RGB 0-255, (N, 3, H, W), H and W multiples of 32: float32 for the fp32
  model, uint8 for the int8 twin where its input quantisation gives every pixel value back (train/export.py).
  Outputs: `peaks` (N, 5, H/2, W/2) class scores at local maxima; `boxes` (N, 6, H/2, W/2).{masks_text}
- **GSD range:** {config.gsd_range_m[0]}-{config.gsd_range_m[1]} m. Finer imagery is averaged
  down to {config.gsd_range_m[0]} m on read; {_work_text(config.work_gsd_m)}coarser than the
  range is refused unless forced.
- **Operating thresholds:** {thresholds_text}: per class, the score of best F1 at IoU 0.5 on
  the *training* split (real frames and generated objects, 0.3 m and 0.5 m), never on the
  validation split.
- **Score calibration:** `{stem}.onnx.calibration.json` (and the int8 twin's) holds
  per-class isotonic knots from score to the probability of a true object at IoU 0.5, fitted on
  the same training split (so possibly optimistic); zone observations sum calibrated scores.
- **Compute:** {gflops:.2f} GFLOPs per megapixel of input (convolutions, multiply-add = 2 FLOPs).
- **Training:** from scratch (no pretrained weights), {steps} steps of {config.batch} crops of
  {config.crop_px} px, AdamW, on the CPU.{continued} Last configuration: peak learning rate
  {config.lr}, generated objects in {config.generated_probability:.0%} of crops{warp_text}.{ema_text}{made_by}{note}

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
`sitewatch.train.synth` (oriented parts with plausible sizes and colours, shadows swept from the
sun and a sensor blur) drawn onto the real frames and backgrounds above. Figures for those
classes below come from generated objects on held-out backgrounds and say nothing yet about real
rail cars, cranes or containers.

## Metrics (held-out split)

{metrics}

Split: validation frames are whole places or flight sequences (see the patterns above), never
random frames. Details and PR curves: `benchmarks/results/detector/` (fp32) and
`benchmarks/results/detector-int8/` (int8). Speed and memory: `BENCHMARKS.md`.

## Limits

- Small vehicles are learned from two European street data sets (Munich aerial, Minsk drone),
  resampled to satellite GSD: parking lots, deserts and snow are not represented.
- Orientation of real vehicles is learned only through their axis-aligned boxes (the box's
  envelope is supervised); oriented supervision comes from generated objects.
- {long_text} Large vehicles (trucks, tankers, buses) are found at
  low recall. Trust counts of small vehicles most.
"""
