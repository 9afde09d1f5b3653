"""The training loop: resumable from its last checkpoint, logging progress, CPU or GPU.

Checkpoints (`last.pt`, every `checkpoint_every` steps and at the end) hold the model, the
optimiser and the step; the learning rate is a function of the step (linear warm-up, cosine
decay), so a resumed run follows the same schedule. The sample stream is re-seeded from the step
on resume, so a resumed run sees fresh samples rather than a replay.

With `ema_decay` (detector runs) the loop also keeps an exponential moving average of the
weights and batch-norm statistics (`torch.optim.swa_utils.AveragedModel`), saved in the
checkpoint beside the raw weights and restored on resume; a release exports the average
(`train.export.released_weights`). It starts from the weights the run starts with (a continuation's, for
one that continues), so a decay of 0.999 remembers about the last 1,000 steps: the released
model is the mean of where the last stretch of training wandered rather than its last step.

A new run may start from another run's checkpoint (`continue_from: ../runs/x/last.pt`, layers
and mask channels may be added) or, for the detector, from a released fp32 model
(`continue_from: ../models/m.onnx` with `continue_step`; train/from_onnx.py). Checkpoints under
`runs/` are not committed and a new checkout lacks them: a continuation meant to outlive the
checkout starts from a committed model.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from sitewatch.errors import ConfigError
from sitewatch.train.config import TrainConfig, TrainingRun, is_onnx
from sitewatch.train.data import load_split
from sitewatch.train.dataset import CLASSES, SampleSource
from sitewatch.train.from_onnx import check_mask_prefix, weights_from_onnx
from sitewatch.train.loss import build_batch, detection_loss
from sitewatch.train.model import build_model

Log = Callable[[str], None]


def optimiser_step(model: Any, opt: Any, loss: torch.Tensor) -> None:
    """Back-propagate `loss`, clip the gradient norm at 10 and step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()


class Progress:
    """Running means of the loss parts between checkpoints, logged with the rate at each one."""

    def __init__(self, config: TrainingRun, log: Log, unit: str) -> None:
        self.config, self.log, self.unit = config, log, unit
        self.started, self.window, self.sums = time.perf_counter(), 0, dict[str, float]()

    def add(self, parts: dict[str, float]) -> None:
        self.window += 1
        for k, v in parts.items():
            self.sums[k] = self.sums.get(k, 0.0) + v

    def due(self, step: int) -> bool:
        """Whether a checkpoint is due after `step` (then `report` it)."""
        return step % self.config.checkpoint_every == 0 or step == self.config.steps

    def report(self, step: int) -> None:
        c, n = self.config, max(1, self.window)
        rate = self.window * c.batch / (time.perf_counter() - self.started)
        means = " ".join(f"{k} {v / n:.3f}" for k, v in self.sums.items())
        self.log(
            f"step {step}/{c.steps} {means} lr {learning_rate(c, step):.2e} {rate:.1f} {self.unit}/s"
        )
        self.started, self.window, self.sums = time.perf_counter(), 0, {}


def learning_rate(config: TrainingRun, step: int) -> float:
    """Warm-up over the first 5% of steps, then cosine decay to 2% of the peak."""
    warm = max(1, config.steps // 20)
    if step < warm:
        return config.lr * (step + 1) / warm
    t = (step - warm) / max(1, config.steps - warm)
    return config.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def train(config: TrainConfig, log: Log) -> Path:
    """Train (or resume) and return the path of the final checkpoint."""
    torch.set_num_threads(config.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = config.out / "last.pt"
    model = build_model(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    split = load_split(config)

    def samples(seed: int) -> SampleSource:
        return SampleSource(
            split.train,
            split.train_backgrounds,
            config.gsd_levels_m,
            config.crop_px,
            config.generated_probability,
            seed=seed,
            work_gsd_m=config.work_gsd_m if config.train_at_work_gsd else None,
            mask_classes=config.mask_classes,
            background_warp=config.background_warp,
            generated_weights=config.generated_weights,
            colour_jitter=config.colour_jitter,
            generator=config.generator_options(),
        )

    if config.continue_step is not None and not ckpt_path.exists():  # from a released model
        # crops from a stream no training step draws (those are seeded seed + step)
        step = continue_from_model(config, model, samples(config.seed + config.steps + 1), log)
    else:
        step = resume(ckpt_path, config.continue_from, model, opt, device, log)
    if step >= config.steps:
        log(f"already trained ({step} steps)")
        if not ckpt_path.exists():  # another run's weights, released anew (say, other decoding)
            save_checkpoint(ckpt_path, model, opt, step, config)
        return ckpt_path
    for name, gsd in split.gsd_estimates.items():
        log(f"{name}: GSD estimated from car lengths: {gsd}")
    log(
        f"train: {len(split.train)} labelled frames, {len(split.train_backgrounds)} backgrounds; "
        f"held out: {len(split.val)} labelled frames, {len(split.val_backgrounds)} backgrounds"
    )
    ema = weight_average(model, config.ema_decay, ckpt_path, device)
    source = samples(config.seed + step)
    mask_index = tuple(CLASSES.index(c) for c in config.mask_classes)
    model.train()
    progress = Progress(config, log, "samples")
    while step < config.steps:
        for group in opt.param_groups:
            group["lr"] = learning_rate(config, step)
        batch = build_batch([source.sample() for _ in range(config.batch)])
        batch = {k: v.to(device) for k, v in batch.items()}
        heat, box, mask = model(batch["image"])
        loss, parts = detection_loss(heat, box, batch, mask, mask_index)
        optimiser_step(model, opt, loss)
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        progress.add({"loss": float(loss.detach()), **parts})
        if progress.due(step):
            save_checkpoint(ckpt_path, model, opt, step, config, ema)
            progress.report(step)
    return ckpt_path


def continue_from_model(config: TrainConfig, model: Any, source: SampleSource, log: Log) -> int:
    """Start from a released model's weights (train/from_onnx.py; its batch norms unfolded on
    four batches of training crops); the step it was trained to."""
    assert config.continue_from is not None and config.continue_step is not None
    images = build_batch([source.sample() for _ in range(4 * config.batch)])["image"]
    weights, spec = weights_from_onnx(config.continue_from, images, config.average_with)
    check_mask_prefix(config.continue_from, spec, config.mask_classes)
    grown = _load_grown(model, weights, config.continue_from)
    added = f" with new layers ({', '.join(grown)})" if grown else ""
    averaged = "".join(f", averaged with {p}" for p in config.average_with)
    log(
        f"continuing from the released model {config.continue_from}{averaged}{added} at step "
        f"{config.continue_step}; fresh optimiser"
    )
    return config.continue_step


def resume(
    ckpt: Path, continue_from: Path | None, model: Any, opt: Any, device: Any, log: Log
) -> int:
    """Load the run's last checkpoint (else `continue_from`, if given) into the model and the
    optimiser; the step to go on from (0 for a fresh start)."""
    start = ckpt if ckpt.exists() else continue_from
    if start is None:
        return 0
    if is_onnx(start):
        raise ConfigError(
            f"continue_from {start}: a released model; only detector runs continue from one "
            "(with continue_step)"
        )
    if not start.exists():
        raise ConfigError(f"continue_from {start}: no such checkpoint")
    state = torch.load(start, map_location=device)
    if start == continue_from:  # another run's checkpoint: the network may have grown since
        grown = _load_grown(model, state["model"], start)
    else:
        model.load_state_dict(state["model"])
        grown = []
    if grown:  # the optimiser state of the old layers does not fit the grown network
        log(f"continuing from {start} with new layers ({', '.join(grown)}); fresh optimiser")
    else:
        opt.load_state_dict(state["optimizer"])
    step = int(state["step"])
    log(f"resumed from {start} at step {step}")
    return step


def _load_grown(model: Any, weights: dict[str, Any], source: Path) -> list[str]:
    """Load a checkpoint into a model that may have grown new layers since (a continuation
    adding the residual context stage) or new output channels in a layer (an extent mask for
    one more class, appended after the checkpoint's); the names of the layers grown.

    Every weight of the checkpoint must fit the model: only additions are allowed. A grown
    layer keeps the checkpoint's channels first and its own initialisation for the new ones."""
    own = model.state_dict()
    weights = dict(weights)
    widened = []
    for key, value in weights.items():
        mine = own.get(key)
        if mine is None or mine.shape == value.shape:
            continue
        if mine.shape[1:] != value.shape[1:] or mine.shape[0] < value.shape[0]:
            raise ConfigError(
                f"continue_from {source}: {key} is {tuple(value.shape)} in the checkpoint and "
                f"{tuple(mine.shape)} in the network; only new output channels can be added"
            )
        grown = mine.clone()
        grown[: value.shape[0]] = value
        weights[key] = grown
        widened.append(key.split(".")[0])
    result = model.load_state_dict(weights, strict=False)
    if result.unexpected_keys:
        raise ConfigError(
            f"continue_from {source}: the network lacks layers of the checkpoint "
            f"({', '.join(result.unexpected_keys[:5])})"
        )
    return sorted({k.split(".")[0] for k in result.missing_keys} | set(widened))


def weight_average(
    model: Any, decay: float | None, checkpoint: Path, device: Any
) -> AveragedModel | None:
    """The moving average of `model`'s weights and buffers with `decay` (None: no average),
    restored from the run's own `checkpoint` where it holds one; otherwise it starts from the
    model's current weights at its first update."""
    if decay is None:
        return None
    average = get_ema_multi_avg_fn(decay)  # type: ignore[no-untyped-call]
    ema = AveragedModel(model, multi_avg_fn=average, use_buffers=True)
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device)
        if "ema" in state:
            ema.module.load_state_dict(state["ema"])
            ema.n_averaged.fill_(int(state["ema_updates"]))
    return ema


def save_checkpoint(
    path: Path,
    model: Any,
    opt: Any,
    step: int,
    config: BaseModel,
    ema: AveragedModel | None = None,
) -> None:
    """Write `last.pt` atomically: model, optimiser, step and configuration, and the weight
    average (`ema`, with its count of updates) where the run keeps one."""
    tmp = path.with_suffix(".tmp")
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "config": json.loads(config.model_dump_json()),
    }
    if ema is not None:
        state["ema"] = ema.module.state_dict()
        state["ema_updates"] = int(ema.n_averaged)
    torch.save(state, tmp)
    tmp.replace(path)
