"""Targets and losses for the centre-heatmap detector.

Heatmap: a Gaussian per object at its centre cell, sigma from the object's short side (so
side-by-side cars stay separate peaks), penalty-reduced focal loss (CenterNet), masked by valid
pixels and labelled classes. Boxes, at centre cells only: L1 on the sub-cell offset; for oriented
labels L1 on log length, log width and on (sin 2a, cos 2a) weighted by elongation; for axis-aligned
labels (orientation unknown) L1 on the log extents of the predicted box's axis-aligned envelope.
Extent masks (where the network has them): the parts' footprint coverage averaged over each
output cell, binary cross-entropy plus a soft Dice term over the batch (footprints cover a small
share of the pixels), on valid pixels of samples that label the class, except on the cells of
a real axis-aligned label of the class (its footprint is not known there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from sitewatch.train.dataset import CLASSES, Sample, angle_vector, footprint_cells
from sitewatch.train.model import STRIDE

MAX_OBJECTS = 512


def build_batch(samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
    """Stack samples into input and target tensors."""
    n = len(samples)
    size = samples[0].image.shape[1]
    h = w = size // STRIDE
    heat = np.zeros((n, len(CLASSES), h, w), np.float32)
    valid = np.zeros((n, 1, h, w), np.float32)
    cls_mask = np.zeros((n, len(CLASSES), 1, 1), np.float32)
    index = np.zeros((n, MAX_OBJECTS), np.int64)
    present = np.zeros((n, MAX_OBJECTS), np.float32)
    oriented = np.zeros((n, MAX_OBJECTS), np.float32)
    reg = np.zeros((n, MAX_OBJECTS, 8), np.float32)  # dx dy logL logW sin cos logAW logAH
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for i, s in enumerate(samples):
        valid[i, 0] = s.valid[::STRIDE, ::STRIDE]
        cls_mask[i, :, 0, 0] = s.labelled
        for j, t in enumerate(s.targets[:MAX_OBJECTS]):
            b = t.box
            cx, cy = b.cx / STRIDE, b.cy / STRIDE
            ix, iy = int(cx), int(cy)
            if not (0 <= ix < w and 0 <= iy < h):
                continue
            sigma = max(0.5, b.width_px / STRIDE / 3.0)
            if t.oriented:
                sig_l = max(sigma, min(b.length_px / STRIDE / 3.0, 3 * sigma))
                r = math.radians(b.angle_deg)
                du = (xs + 0.5 - cx) * math.cos(r) + (ys + 0.5 - cy) * math.sin(r)
                dv = -(xs + 0.5 - cx) * math.sin(r) + (ys + 0.5 - cy) * math.cos(r)
                g = np.exp(-0.5 * ((du / sig_l) ** 2 + (dv / sigma) ** 2))
            else:
                g = np.exp(-0.5 * (((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2) / sigma**2))
            c = CLASSES.index(t.object_class)
            heat[i, c] = np.maximum(heat[i, c], g)
            heat[i, c, iy, ix] = 1.0
            index[i, j] = iy * w + ix
            present[i, j] = 1.0
            oriented[i, j] = float(t.oriented)
            x0, y0, x1, y1 = b.aabb()
            sin2, cos2 = angle_vector(b.angle_deg)
            reg[i, j] = (
                cx - ix,
                cy - iy,
                math.log(max(b.length_px, 1.0) / STRIDE),
                math.log(max(b.width_px, 1.0) / STRIDE),
                sin2,
                cos2,
                math.log(max(x1 - x0, 1.0) / STRIDE),
                math.log(max(y1 - y0, 1.0) / STRIDE),
            )
    images = np.stack([s.image for s in samples]).astype(np.float32)
    masks, known = footprint_cells(samples, STRIDE)
    return {
        "masks": torch.from_numpy(masks),
        "mask_known": torch.from_numpy(known.astype(np.float32)),
        "image": torch.from_numpy(images),
        "heat": torch.from_numpy(heat),
        "valid": torch.from_numpy(valid),
        "cls_mask": torch.from_numpy(cls_mask),
        "index": torch.from_numpy(index),
        "present": torch.from_numpy(present),
        "oriented": torch.from_numpy(oriented),
        "reg": torch.from_numpy(reg),
    }


def focal_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of objects."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = (target >= 1.0).float() * mask
    neg = (1 - (target >= 1.0).float()) * mask
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - target) ** 4 * neg
    n = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def mask_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on soft targets plus (1 - soft Dice) over the whole batch."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    denom = weight.expand_as(bce).sum().clamp(min=1.0)
    p = torch.sigmoid(logits) * weight
    t = target * weight
    dice = (2 * (p * t).sum() + 1.0) / (p.sum() + t.sum() + 1.0)
    return (bce * weight).sum() / denom + (1 - dice)


def detection_loss(
    heat_logits: torch.Tensor,
    box: torch.Tensor,
    batch: dict[str, torch.Tensor],
    mask_logits: torch.Tensor | None = None,
    mask_index: tuple[int, ...] = (),
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts. `mask_logits` (N, M, h, w): the extent masks of the classes
    at `mask_index` (indices into CLASSES), where the network has them."""
    mask = batch["valid"] * batch["cls_mask"]
    l_heat = focal_loss(heat_logits, batch["heat"], mask)
    n, c, h, w = box.shape
    flat = box.view(n, c, h * w)
    pred = torch.gather(flat, 2, batch["index"].unsqueeze(1).expand(n, c, -1)).permute(0, 2, 1)
    reg, present, oriented = batch["reg"], batch["present"], batch["oriented"]
    denom = present.sum().clamp(min=1.0)
    l_off = ((pred[..., :2] - reg[..., :2]).abs().sum(-1) * present).sum() / denom
    # oriented labels: sizes and angle
    o = present * oriented
    l_size_o = ((pred[..., 2:4] - reg[..., 2:4]).abs().sum(-1) * o).sum()
    elong = 1 - torch.exp(reg[..., 3] - reg[..., 2])
    l_ang = ((pred[..., 4:6] - reg[..., 4:6]).abs().sum(-1) * o * elong).sum()
    # axis-aligned labels: the envelope of the predicted oriented box
    a = present * (1 - oriented)
    length, width = torch.exp(pred[..., 2].clamp(-3, 6)), torch.exp(pred[..., 3].clamp(-3, 6))
    theta = 0.5 * torch.atan2(pred[..., 4], pred[..., 5] + 1e-6)
    ct, st = torch.cos(theta).abs(), torch.sin(theta).abs()
    env_w = torch.log(length * ct + width * st + 1e-3)
    env_h = torch.log(length * st + width * ct + 1e-3)
    l_env = (((env_w - reg[..., 6]).abs() + (env_h - reg[..., 7]).abs()) * a).sum()
    # keep the angle vector near unit length
    l_norm = ((pred[..., 4:6].pow(2).sum(-1) - 1).abs() * present).sum()
    l_box = (l_size_o + l_ang + l_env + 0.1 * l_norm) / denom
    total = l_heat + l_off + 0.5 * l_box
    parts = {
        "heat": float(l_heat.detach()),
        "offset": float(l_off.detach()),
        "box": float(l_box.detach()),
    }
    if mask_logits is not None:
        weight = batch["valid"] * batch["cls_mask"][:, list(mask_index)] * batch["mask_known"]
        l_mask = mask_loss(mask_logits, batch["masks"], weight)
        total = total + l_mask
        parts["mask"] = float(l_mask.detach())
    return total, parts
