"""`sitewatch detect`, `sitewatch eval-detector`, `sitewatch train` and `sitewatch models show`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from sitewatch.cli.context import app_context
from sitewatch.cli.output import console, print_json, progress_bar
from sitewatch.core.models import ObjectClass
from sitewatch.detect.changenet import OnnxChangeModel
from sitewatch.detect.onnx import OnnxDetector, load_detector, load_spec
from sitewatch.detect.run import DetectOptions
from sitewatch.detect.taxonomy import parse_object_class
from sitewatch.errors import ConfigError, NotFoundError
from sitewatch.pipeline.detect import DetectOutcome, detect_scene, detect_site

REPO_MODELS = Path(__file__).resolve().parents[3] / "models"
# The int8 twin of sitewatch-det-0.30.0 runs by default: the uniform weight average of 0.22.0
# and 0.28.0 (0.22.0 trained 9,000 more steps with quay vehicles, a wider palette and angled
# bays), with 7-bit int8 weights (CPUs without VNNI do not saturate) and taking uint8 pixels
# (train/export.py), adopted by the rule in its configuration (real DOTA vehicles and boats, real
# depots, selection and training splits on many draws, speed and alerting; BENCHMARKS.md).
# Benchmarks and tests take the default from here.
DEFAULT_MODEL = "sitewatch-det-0.30.0-int8.onnx"
DEFAULT_FP32_MODEL = DEFAULT_MODEL.replace("-int8", "")  # its fp32 twin
DEFAULT_CHANGE_MODEL = "sitewatch-chg-0.1.0.onnx"
MODEL_OPT = typer.Option(
    None, "--model", help="ONNX model or registration YAML (default: the bundled model)"
)

models_app = typer.Typer(help="Detector models.", no_args_is_help=True)


def resolve_model(model: Path | None, configured: Path | None) -> Path:
    """The model to use: the option, else SITEWATCH_MODEL, else the bundled default."""
    path = model or configured or REPO_MODELS / DEFAULT_MODEL
    if not path.exists():
        raise NotFoundError(f"model {path}: no such file; pass --model or set SITEWATCH_MODEL")
    return path


def load_change_model(configured: Path | None, threads: int = 0) -> OnnxChangeModel | None:
    """The learned change model: SITEWATCH_CHANGE_MODEL, else the bundled default; None where
    the setting is `none` (the unsupervised test is used)."""
    if configured is not None and str(configured).lower() == "none":
        return None
    path = configured or REPO_MODELS / DEFAULT_CHANGE_MODEL
    if not path.exists():
        raise NotFoundError(
            f"change model {path}: no such file; set SITEWATCH_CHANGE_MODEL (or 'none')"
        )
    return OnnxChangeModel(path, threads)


def parse_thresholds(items: list[str]) -> dict[ObjectClass, float]:
    """`class=value` pairs."""
    out: dict[ObjectClass, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        cls = parse_object_class(name.strip(), where=f"--threshold {item!r}")
        try:
            v = float(value)
        except ValueError:
            v = -1.0
        if not sep or cls is None or not 0 <= v <= 1:
            raise ConfigError(f"--threshold {item!r}: expected CLASS=VALUE with VALUE in 0..1")
        out[cls] = v
    return out


def _outcome_dict(o: DetectOutcome) -> dict[str, Any]:
    r = o.record
    return {
        "detection_set": r.id,
        "scene_id": r.scene_id,
        "site_id": r.site_id,
        "chip_key": r.chip_key,
        "counts": dict(r.counts),
        "tiles_run": r.tiles_run,
        "tiles_skipped_empty": r.tiles_skipped,
        "model_id": r.model_id,
        "model_sha256": r.model_sha256,
        "params": dict(r.params),
        "geojson": str(o.geojson) if o.geojson else None,
        "gpkg": str(o.gpkg) if o.gpkg else None,
    }


def detect(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="SCENE|SITE", help="scene file or id, or site id"),
    model: Path | None = MODEL_OPT,
    out: Path | None = typer.Option(
        None, "--out", help="folder for GeoJSON and GeoPackage (default $SITEWATCH_HOME/detections)"
    ),
    tile: int | None = typer.Option(None, "--tile", help="tile size in pixels (default: model's)"),
    overlap: int | None = typer.Option(
        None, "--overlap", help="tile overlap in pixels (default: 1/8 of the tile)"
    ),
    batch: int = typer.Option(
        1, "--batch", help="tiles per inference batch (1 is fastest on a CPU)"
    ),
    threshold: list[str] = typer.Option([], "--threshold", help="CLASS=VALUE, repeatable"),
    force: bool = typer.Option(False, "--force", help="run even outside the model's GSD range"),
    threads: int = typer.Option(0, "--threads", help="inference threads (0: all cores)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Detect vehicles, rail cars, cranes and containers in a scene or in a site's chips."""
    c = app_context(ctx)
    path = resolve_model(model, c.settings.model)
    asked = parse_thresholds(threshold)
    spec = load_spec(path)
    # per-class thresholds: the asked ones, else the model's; the runtime keeps everything above
    # the lowest, the filter applies each class's own
    thresholds = {cls: asked.get(cls, spec.threshold(cls)) for cls in ObjectClass}
    detector = load_detector(path, threads, score_floor=min(thresholds.values()))
    options = DetectOptions(
        tile_px=tile,
        overlap_px=overlap,
        batch=batch,
        thresholds=thresholds,
        force_gsd=force,
    )
    out_dir = out or c.settings.home / "detections"
    store = c.store
    is_site = not Path(target).exists() and target in {s.id for s in store.list_sites()}
    with progress_bar("detect") as progress:
        if is_site:
            outcomes = detect_site(store, target, detector, options, out_dir, progress)
        else:
            outcomes = [detect_scene(store, target, detector, options, out_dir, progress)]
    if as_json:
        print_json([_outcome_dict(o) for o in outcomes])
        return
    table = Table("target", *[c.value for c in ObjectClass], "tiles", "skipped", "GeoJSON")
    for o in outcomes:
        r = o.record
        table.add_row(
            r.chip_key or r.scene_id or target,
            *[str(r.counts.get(cls.value, 0)) for cls in ObjectClass],
            str(r.tiles_run),
            str(r.tiles_skipped),
            str(o.geojson),
        )
    console.print(table)
    console.print(
        f"model {detector.info.model_id} sha256 {detector.info.sha256[:12]}", highlight=False
    )


def eval_detector(
    ctx: typer.Context,
    model: Path | None = MODEL_OPT,
    config: Path = typer.Option(
        Path("configs/train-det.yaml"), "--config", help="training configuration (its split)"
    ),
    gsd: list[float] = typer.Option([0.3, 0.5], "--gsd", help="evaluation GSD (m), repeatable"),
    out: Path = typer.Option(
        Path("benchmarks/results/detector"), "--out", help="folder for JSON, Markdown and PNG"
    ),
    generated: bool = typer.Option(True, "--generated/--no-generated"),
    draws: int = typer.Option(
        1, "--draws", min=1, help="draws of generated objects pooled (seeds 1234 onwards)"
    ),
    threads: int = typer.Option(0, "--threads"),
) -> None:
    """AP50, AP50:95, counting error and P/R per class on the held-out split; PR curves."""
    from sitewatch.train.config import load_train_config
    from sitewatch.train.data import load_split
    from sitewatch.train.evaluate import HELDOUT_SEED, heldout_reports, plot_pr_curves

    c = app_context(ctx)
    path = resolve_model(model, c.settings.model)
    detector = load_detector(path, threads, score_floor=0.05)
    operating = {cls: detector.spec.threshold(cls) for cls in ObjectClass}
    split = load_split(load_train_config(config))
    reports = heldout_reports(
        detector, split.val, split.val_backgrounds, gsd, operating, generated, draws
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_pr_curves(reports, out / "pr_curves.png")
    clean = {
        k: {
            cls: {m: v for m, v in r.items() if m not in ("curve", "scored", "matches")}
            for cls, r in rep.items()
        }
        for k, rep in reports.items()
    }
    summary: dict[str, Any] = {
        "model": str(path.name),
        "model_id": detector.info.model_id,
        "model_sha256": detector.info.sha256,
        "split": {
            "validation_images": sorted(str(i.image_path.name) for i in split.val),
            "validation_backgrounds": sorted(str(i.image_path.name) for i in split.val_backgrounds),
        },
        "results": clean,
    }
    pooled = f" --draws {draws}" if draws > 1 and generated else ""
    if pooled:
        summary["generated_draws"] = draws
    (out / "eval.json").write_text(json.dumps(summary, indent=2))
    lines = [
        f"# Detector evaluation: {detector.info.model_id}",
        "",
        f"Model `{path.name}` (sha256 `{detector.info.sha256[:16]}`), command: "
        f"`sitewatch eval-detector --model {path} --config {config}{pooled}`."
        + (
            f" Generated rows pool {draws} draws of generated objects (seeds {HELDOUT_SEED}-"
            f"{HELDOUT_SEED + draws - 1})."
            if pooled
            else ""
        ),
        "Rows marked *generated* are measured on generated objects drawn on held-out real "
        "backgrounds, not on real labelled objects. Their large-vehicle row also counts the real "
        "trucks and buses of those frames; the rows *real ignored* leave those out, COCO-style "
        "(not counted, and a detection on one neither a hit nor a false alarm): generated "
        "objects alone.",
        "",
        "AP50 90% is a bootstrap interval over the images (`sitewatch.train.evaluate`).",
        "",
        "| setting | class | images | objects | AP50 | AP50 90% | AP50:95 | P@op | R@op "
        "| count MAE | count MAPE |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    table = Table(
        "setting", "class", "objects", "AP50", "AP50 90%", "AP50:95", "P", "R", "MAE", "MAPE"
    )
    for setting, rep in clean.items():
        for cls, r in rep.items():
            mape = "-" if r["count_MAPE"] is None else f"{r['count_MAPE']:.1%}"
            lo, hi = r["AP50_interval"]
            lines.append(
                f"| {setting} | {cls} | {r['images']} | {r['objects']} | {r['AP50']:.3f} | "
                f"{lo:.2f}-{hi:.2f} | {r['AP50_95']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                f"{r['count_MAE']:.2f} | {mape} |"
            )
            table.add_row(
                setting,
                cls,
                str(r["objects"]),
                f"{r['AP50']:.3f}",
                f"{lo:.2f}-{hi:.2f}",
                f"{r['AP50_95']:.3f}",
                f"{r['precision']:.2f}",
                f"{r['recall']:.2f}",
                f"{r['count_MAE']:.2f}",
                mape,
            )
    (out / "eval.md").write_text("\n".join(lines) + "\n")
    console.print(table)
    console.print(f"results: {out / 'eval.md'}, {out / 'eval.json'}, {out / 'pr_curves.png'}")


def _training_log(out: Path) -> Callable[[str], None]:
    """A log that prints each message and appends it to `out`/train.log (created)."""
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train.log"

    def log(message: str) -> None:
        console.print(message, highlight=False)
        with log_path.open("a") as f:
            f.write(message + "\n")

    return log


def train(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="training configuration YAML"),
    export_to: Path | None = typer.Option(
        None, "--export-to", help="folder for the ONNX models and card (default: the run folder)"
    ),
) -> None:
    """Train the detector (resumes from the last checkpoint), then export ONNX fp32 + int8 + card."""
    from sitewatch.train.config import load_train_config
    from sitewatch.train.loop import train as run_training
    from sitewatch.train.release import export_release

    cfg = load_train_config(config)
    log = _training_log(cfg.out)
    checkpoint = run_training(cfg, log)
    paths = export_release(cfg, checkpoint, export_to or cfg.out, log, config)
    for p in paths:
        console.print(f"wrote {p}", highlight=False)


@models_app.command("show")
def models_show(
    ctx: typer.Context,
    model: Path | None = typer.Argument(None, help="model or registration YAML"),
) -> None:
    """Show a model's spec: layout, classes, GSD range, thresholds."""
    c = app_context(ctx)
    spec = load_spec(resolve_model(model, c.settings.model))
    detector = OnnxDetector(spec)  # loading checks the outputs against the layout
    print_json(
        {
            "model_id": spec.model_id,
            "path": str(spec.path),
            "sha256": detector.info.sha256,
            "layout": spec.layout,
            "classes": [x.value if x else None for x in spec.classes],
            "input_px": spec.input_px,
            "gsd_m": [spec.gsd_min_m, spec.gsd_max_m],
            "work_gsd_m": spec.work_gsd_m,
            "thresholds": {k.value: v for k, v in spec.thresholds.items()},
        }
    )


def calibrate_detector(
    ctx: typer.Context,
    model: Path | None = MODEL_OPT,
    config: Path = typer.Option(
        Path("configs/train-det.yaml"), "--config", help="training configuration (its split)"
    ),
    also: list[Path] = typer.Option(
        [], "--also", help="other files of the same model (its int8 twin) to give the calibration"
    ),
) -> None:
    """Fit the score calibration of a model on its training split and store it beside the model."""
    from sitewatch.detect.calibration import write_calibration
    from sitewatch.train.config import load_train_config
    from sitewatch.train.data import load_split
    from sitewatch.train.release import (
        CALIBRATION_NOTE,
        calibrate_scores,
        training_split_reports,
    )

    c = app_context(ctx)
    path = resolve_model(model, c.settings.model)
    split = load_split(load_train_config(config))
    knots = calibrate_scores(training_split_reports(path, split).values())
    for m in (path, *also):
        written = write_calibration(m, knots, f"{CALIBRATION_NOTE} (scores of {path.name})")
        console.print(f"wrote {written}", highlight=False)
    for cls, k in knots.items():
        text = ", ".join(f"{s:.2f}->{p:.2f}" for s, p in k[:: max(1, len(k) // 6)])
        console.print(f"  {cls.value}: {text}", highlight=False)


def train_change(
    config: Path = typer.Argument(..., help="change training configuration YAML"),
    export_to: Path | None = typer.Option(
        None, "--export-to", help="folder for the ONNX model and card (default: the run folder)"
    ),
) -> None:
    """Train the change model (resumes from the last checkpoint), then export ONNX + card."""
    from sitewatch.train.change_train import load_change_config, release_change, train_change

    cfg = load_change_config(config)
    log = _training_log(cfg.out)
    checkpoint = train_change(cfg, log)
    for p in release_change(cfg, checkpoint, export_to or cfg.out, log):
        console.print(f"wrote {p}", highlight=False)
