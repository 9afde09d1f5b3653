"""Training the change model (`sitewatch train-change CONFIG`) and exporting it to ONNX.

Data: real tiles with building footprints (configuration `tiles` + `footprints`); held-out tiles
are chosen by a pattern on the tile name (a place), never at random. Pairs are generated
(train/change_pairs.py). Loss: binary cross-entropy plus soft Dice on the change map, plus 0.3 x
cross-entropy of the auxiliary building heads (both dates, stride 8, area-averaged footprints).
Optimiser AdamW, warm-up then cosine decay (as the detector). Checkpoints every
`checkpoint_every` steps; a run resumes from its last checkpoint. Pairs are drawn in a worker
process so that generation overlaps the network's step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import model_validator
from torch.nn import functional

from sitewatch.detect.changenet import METADATA_KEY
from sitewatch.documents import load_yaml_model
from sitewatch.errors import ConfigError
from sitewatch.imagery.footprints import read_with_footprints
from sitewatch.train.change_model import ChangeNet
from sitewatch.train.change_pairs import FootprintTile, PairSource
from sitewatch.train.config import TrainingRun
from sitewatch.train.export import OPSET, write_onnx
from sitewatch.train.loop import (
    Progress,
    learning_rate,
    optimiser_step,
    resume,
    save_checkpoint,
)
from sitewatch.train.model import gflops_per_megapixel

Log = Callable[[str], None]


class ChangeTrainConfig(TrainingRun):
    """A change-model training run."""

    name: str = "sitewatch-chg"
    version: str
    tiles: Path  # folder of 8-bit GeoTIFFs in a projected CRS
    footprints: Path  # GeoJSON building footprints (CRS84)
    val_pattern: str  # tiles whose name matches are held out
    licence: str
    train_gsd_m: tuple[float, float] = (0.4, 0.75)  # pairs are drawn at GSDs in this range
    gsd_range_m: tuple[float, float] = (0.25, 1.0)  # what the released model accepts
    work_gsd_m: float = 0.5  # imagery is resampled to this GSD before inference
    threshold: float = 0.5  # changed where the probability exceeds it (fixed, not tuned)
    crop_px: int = 256
    batch: int = 8
    steps: int = 6000
    checkpoint_every: int = 250
    workers: int = 1

    @model_validator(mode="after")
    def _check(self) -> ChangeTrainConfig:
        if self.crop_px % 16:
            raise ValueError("crop_px must be a multiple of 16")
        lo, hi = self.gsd_range_m
        if not 0 < lo <= self.work_gsd_m <= hi:
            raise ValueError("work_gsd_m must lie inside gsd_range_m")
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must lie in (0, 1)")
        return self


def load_change_config(path: Path) -> ChangeTrainConfig:
    """Read and validate a change training configuration; paths resolve against its folder."""
    config = load_yaml_model(path, ChangeTrainConfig, "change training configuration")
    base = path.parent
    config.resolve_paths(base)
    config.tiles = (base / config.tiles).resolve()
    config.footprints = (base / config.footprints).resolve()
    return config


def load_tiles(config: ChangeTrainConfig) -> tuple[list[FootprintTile], list[FootprintTile]]:
    """(training tiles, held-out tiles)."""
    paths = sorted(p for p in config.tiles.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
    if not paths:
        raise ConfigError(f"{config.tiles}: no GeoTIFF tiles")
    train: list[FootprintTile] = []
    val: list[FootprintTile] = []
    for p in paths:
        image, mask, gsd = read_with_footprints(p, config.footprints)
        tile = FootprintTile(p.stem, image, mask, gsd)
        (val if re.search(config.val_pattern, p.stem) else train).append(tile)
    if not train:
        raise ConfigError(f"val_pattern {config.val_pattern!r} holds out every tile")
    return train, val


class _Pairs(torch.utils.data.IterableDataset[dict[str, torch.Tensor]]):
    def __init__(self, tiles: list[FootprintTile], config: ChangeTrainConfig, seed: int) -> None:
        self.tiles, self.config, self.seed = tiles, config, seed

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        seed = self.seed * 1000 + (info.id if info is not None else 0)
        c = self.config
        source = PairSource(self.tiles, c.crop_px, c.train_gsd_m, seed)
        while True:
            pairs = [source.sample() for _ in range(c.batch)]
            yield {
                "before": torch.from_numpy(np.stack([p.before for p in pairs])),
                "after": torch.from_numpy(np.stack([p.after for p in pairs])),
                "change": torch.from_numpy(np.stack([p.change for p in pairs])[:, None]).float(),
                "bb": torch.from_numpy(
                    np.stack([p.before_buildings for p in pairs])[:, None]
                ).float(),
                "ba": torch.from_numpy(
                    np.stack([p.after_buildings for p in pairs])[:, None]
                ).float(),
            }


def change_loss(
    logits: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE + soft Dice over the batch."""
    bce = functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return bce + dice, {"bce": float(bce.detach()), "dice": float(dice.detach())}


def train_change(config: ChangeTrainConfig, log: Log) -> Path:
    """Train (or resume) and return the path of the final checkpoint."""
    torch.set_num_threads(config.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config.out.mkdir(parents=True, exist_ok=True)
    ckpt = config.out / "last.pt"
    model = ChangeNet().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = resume(ckpt, config.continue_from, model, opt, device, log)
    if step >= config.steps:
        log(f"already trained ({step} steps)")
        return ckpt
    train_tiles, val_tiles = load_tiles(config)
    log(
        f"train: {len(train_tiles)} tiles ({', '.join(t.name for t in train_tiles)}); "
        f"held out: {', '.join(t.name for t in val_tiles) or 'none'}"
    )
    loader = torch.utils.data.DataLoader(
        _Pairs(train_tiles, config, config.seed + step),
        batch_size=None,
        num_workers=config.workers,
    )
    model.train()
    progress = Progress(config, log, "pairs")
    for batch in loader:
        if step >= config.steps:
            break
        for group in opt.param_groups:
            group["lr"] = learning_rate(config, step)
        b = {k: v.to(device) for k, v in batch.items()}
        logits, build_b, build_a = model.forward_train(b["before"], b["after"])
        loss, parts = change_loss(logits, b["change"])
        aux = functional.binary_cross_entropy_with_logits(
            build_b, functional.avg_pool2d(b["bb"], 8)
        ) + functional.binary_cross_entropy_with_logits(build_a, functional.avg_pool2d(b["ba"], 8))
        optimiser_step(model, opt, loss + 0.3 * aux)
        step += 1
        progress.add({"loss": float(loss.detach()), **parts, "aux": float(aux.detach())})
        if progress.due(step):
            save_checkpoint(ckpt, model, opt, step, config)
            progress.report(step)
    return ckpt


def export_change_onnx(checkpoint: Path, out: Path, metadata: dict[str, Any]) -> Path:
    """Write the fp32 ONNX change model with `metadata` under the `sitewatch-change` key."""
    state = torch.load(checkpoint, map_location="cpu")
    model = ChangeNet()
    model.load_state_dict(state["model"])
    model.eval()
    example = torch.zeros(1, 3, 256, 256)
    return write_onnx(
        model,
        {"before": example, "after": example},
        {"change": {0: "n", 2: "h", 3: "w"}},
        out,
        {METADATA_KEY: json.dumps(metadata, sort_keys=True)},
    )


def heldout_scores(
    model_path: Path, tiles: list[FootprintTile], config: ChangeTrainConfig, pairs: int = 200
) -> dict[str, Any]:
    """Pooled precision, recall, F1 and IoU of the exported model on generated pairs of the
    held-out tiles (fixed seed), per kind of pair and over all of them, and the fraction of
    pixels wrongly called changed (`false_change`; for unchanged pairs the only measure)."""
    from sitewatch.change.pixels import change_from_probability, pixel_scores
    from sitewatch.detect.changenet import OnnxChangeModel

    model = OnnxChangeModel(model_path)
    source = PairSource(tiles, config.crop_px, (config.work_gsd_m, config.work_gsd_m), seed=12345)
    counts: dict[str, list[int]] = {}
    for _ in range(pairs):
        p = source.sample()
        prob = model.probability(p.before, p.after, config.work_gsd_m)
        pred = change_from_probability(prob, np.ones(prob.shape, bool), model.threshold, 1).changed
        t = [
            int((pred & p.change).sum()),
            int((pred & ~p.change).sum()),
            int((~pred & p.change).sum()),
            pred.size,
        ]
        for key in (p.kind, "all"):
            c = counts.setdefault(key, [0, 0, 0, 0, 0])
            for i, v in enumerate([*t, 1]):
                c[i] += v
    return {
        k: {**pixel_scores(*c[:3]), "false_change": round(c[1] / c[3], 4), "pairs": c[4]}
        for k, c in sorted(counts.items())
    }


def release_change(
    config: ChangeTrainConfig, checkpoint: Path, out_dir: Path, log: Log
) -> list[Path]:
    """Export the ONNX model and write its card with the held-out generated-pair scores."""
    from sitewatch.detect.onnx import file_sha256

    model_id = f"{config.name}-{config.version}"
    state = torch.load(checkpoint, map_location="cpu")
    meta = {
        "model_id": model_id,
        "gsd_range_m": list(config.gsd_range_m),
        "work_gsd_m": config.work_gsd_m,
        "threshold": config.threshold,
        "steps": int(state["step"]),
        "training_data": config.licence,
    }
    onnx_path = export_change_onnx(checkpoint, out_dir / f"{model_id}.onnx", meta)
    log(f"exported {onnx_path}")
    _, val_tiles = load_tiles(config)
    scores = heldout_scores(onnx_path, val_tiles, config) if val_tiles else {}
    gflops = gflops_per_megapixel(ChangeNet(), size=256, inputs=2)
    rows = "\n".join(
        f"| {k} | {v['pairs']} | {v['precision']} | {v['recall']} | {v['f1']} | {v['iou']} "
        f"| {v['false_change']} |"
        for k, v in scores.items()
    )
    card = f"""# {model_id}: learned pixel change (buildings)

- File: `{onnx_path.name}` (fp32 ONNX, opset {OPSET}), sha256 `{file_sha256(onnx_path)}`.
- Inputs: `before`, `after`, float32 RGB 0-255 (N, 3, H, W), H and W multiples of 16; output
  `change`, the change probability (N, 1, H, W). Each input is standardised per image inside
  the graph. Network: src/sitewatch/train/change_model.py (siamese encoder, {gflops:.1f} GFLOPs
  per megapixel of a pair).
- GSD range {config.gsd_range_m[0]:g}-{config.gsd_range_m[1]:g} m; imagery is resampled to the
  working GSD of {config.work_gsd_m:g} m before inference. Threshold {config.threshold:g}
  (fixed before any evaluation, not tuned).
- What it finds: buildings that appeared or disappeared, robust to illumination, colour,
  blur, haze and misregistration up to 2 px. Other change (fields, roads, vehicles, trees)
  is taught as no change.
- Training data (may ship): {config.licence} The training pairs are **generated** from one
  date (src/sitewatch/train/change_pairs.py): buildings removed from real crops, unrelated crops
  paired (their footprint difference is the change), and unchanged crops; no labelled change pair
  was used. Held-out tiles (a place never trained on): {", ".join(t.name for t in val_tiles)}.
- Training: `sitewatch train-change configs/train-change.yaml`, {int(state["step"])} steps of
  {config.batch} pairs of {config.crop_px} px, CPU.

## Held-out generated pairs ({config.work_gsd_m:g} m, seed 12345)

| kind | pairs | precision | recall | F1 | IoU | pixels wrongly changed |
|---|---|---|---|---|---|---|
{rows}

These pairs are generated the way training pairs are, on a held-out place: they check the
training, not the quality on real change. Real labelled pairs: benchmarks/results/change/eval.md.
"""
    card_path = out_dir / f"{model_id}.md"
    card_path.write_text(card)
    (out_dir / f"{model_id}.heldout.json").write_text(json.dumps(scores, indent=2) + "\n")
    return [onnx_path, card_path]
