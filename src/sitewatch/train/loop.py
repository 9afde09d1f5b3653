"""The training loop: resumable from its last checkpoint, logging progress, CPU or GPU.

Checkpoints (`last.pt`, every `checkpoint_every` steps and at the end) hold the model, the
optimiser and the step; the learning rate is a function of the step (linear warm-up, cosine
decay), so a resumed run follows the same schedule. The sample stream is re-seeded from the step
on resume, so a resumed run sees fresh samples rather than a replay.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sitewatch.errors import ConfigError
from sitewatch.train.config import TrainConfig
from sitewatch.train.data import load_split
from sitewatch.train.dataset import SampleSource
from sitewatch.train.loss import build_batch, detection_loss
from sitewatch.train.model import build_model

Log = Callable[[str], None]


def learning_rate(config: TrainConfig, step: int) -> float:
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
    step = 0
    start = ckpt_path if ckpt_path.exists() else config.continue_from
    if start is not None:
        if not start.exists():
            raise ConfigError(f"continue_from {start}: no such checkpoint")
        state = torch.load(start, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
        log(f"resumed from {start} at step {step}")
    if step >= config.steps:
        log(f"already trained ({step} steps)")
        return ckpt_path
    split = load_split(config)
    for name, gsd in split.gsd_estimates.items():
        log(f"{name}: GSD estimated from car lengths: {gsd:.4f} m")
    log(
        f"train: {len(split.train)} labelled frames, {len(split.train_backgrounds)} backgrounds; "
        f"held out: {len(split.val)} labelled frames, {len(split.val_backgrounds)} backgrounds"
    )
    source = SampleSource(
        split.train,
        split.train_backgrounds,
        config.gsd_levels_m,
        config.crop_px,
        config.generated_probability,
        seed=config.seed + step,
        work_gsd_m=config.work_gsd_m if config.train_at_work_gsd else None,
    )
    model.train()
    started, window = time.perf_counter(), 0
    sums: dict[str, float] = {}
    while step < config.steps:
        for group in opt.param_groups:
            group["lr"] = learning_rate(config, step)
        batch = build_batch([source.sample() for _ in range(config.batch)])
        batch = {k: v.to(device) for k, v in batch.items()}
        heat, box = model(batch["image"])
        loss, parts = detection_loss(heat, box, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        step += 1
        window += 1
        for k, v in {"loss": float(loss.detach()), **parts}.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(ckpt_path, model, opt, step, config)
            rate = window * config.batch / (time.perf_counter() - started)
            means = " ".join(f"{k} {v / window:.3f}" for k, v in sums.items())
            log(
                f"step {step}/{config.steps} {means} lr {learning_rate(config, step):.2e} {rate:.1f} samples/s"
            )
            started, window, sums = time.perf_counter(), 0, {}
    return ckpt_path


def _save(path: Path, model: Any, opt: Any, step: int, config: TrainConfig) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "config": json.loads(config.model_dump_json()),
        },
        tmp,
    )
    tmp.replace(path)
