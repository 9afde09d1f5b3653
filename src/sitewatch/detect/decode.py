"""Turning raw model outputs of one tile into detections; pure numpy.

Layouts:
- `sitewatch`: `peaks` (C, h, w) class scores already reduced to 3x3 local maxima, and `boxes`
  (6, h, w): dx, dy, log length, log width (output cells), sin 2a, cos 2a; output stride 2.
- `yolo-detect` (Ultralytics YOLOv8/YOLO11 detect export): (4 + nc, A) rows cx, cy, w, h in input
  pixels, then class scores.
- `yolo-obb` (Ultralytics OBB export): (4 + nc + 1, A): cx, cy, w, h, class scores, angle (radians).
YOLO outputs are candidates before NMS; `suppress_duplicates` follows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import Detection, ObjectClass, OrientedBox
from sitewatch.detect.merge import inner_peak_keep

F32 = npt.NDArray[np.float32]


def decode_sitewatch(
    peaks: F32,
    boxes: F32,
    classes: Sequence[ObjectClass | None],
    thresholds: F32,
    stride: int,
) -> list[Detection]:
    """Detections from a centre-heatmap output (one tile), in decreasing score order.

    A peak whose centre lies inside a higher-scored box of the same class is dropped
    (`inner_peak_keep`): the heatmap of a long object can peak more than once along its axis.
    """
    cls_idx, ys, xs = np.nonzero(peaks > thresholds[:, None, None])
    mapped = np.array([classes[c] is not None for c in range(len(classes))], dtype=bool)
    ours = mapped[cls_idx]
    cls_idx, ys, xs = cls_idx[ours], ys[ours], xs[ours]
    if cls_idx.size == 0:
        return []
    score = peaks[cls_idx, ys, xs].astype(np.float64)
    order = np.lexsort((ys, xs, -score))
    cls_idx, ys, xs, score = cls_idx[order], ys[order], xs[order], score[order]
    dx, dy, log_l, log_w, s2, c2 = boxes[:, ys, xs].astype(np.float64)
    a = np.exp(np.minimum(log_l, 8.0)) * stride
    b = np.exp(np.minimum(log_w, 8.0)) * stride
    angle = np.degrees(0.5 * np.arctan2(s2, c2)) + np.where(b > a, 90.0, 0.0)
    length, width = np.maximum(a, b), np.minimum(a, b)
    cx, cy = (xs + dx) * stride, (ys + dy) * stride
    keep = inner_peak_keep(cls_idx, cx, cy, length, width, angle)
    return [
        Detection(classes[c], s, OrientedBox(x, y, ln, w, t % 180.0))
        for c, s, x, y, ln, w, t in zip(
            cls_idx[keep].tolist(),
            score[keep].tolist(),
            cx[keep].tolist(),
            cy[keep].tolist(),
            length[keep].tolist(),
            width[keep].tolist(),
            angle[keep].tolist(),
            strict=True,
        )
    ]


def decode_yolo(
    output: F32,
    classes: Sequence[ObjectClass | None],
    thresholds: F32,
    oriented: bool,
    scale: float = 1.0,
) -> list[Detection]:
    """Candidates from a YOLO detect (4 + nc, A) or OBB (4 + nc + 1, A) output.

    `scale` maps the model's input pixels back to the tile's pixels.
    """
    nc = len(classes)
    scores = output[4 : 4 + nc]
    best = scores.argmax(axis=0)
    conf = scores[best, np.arange(scores.shape[1])]
    keep = np.nonzero(conf > thresholds[best])[0]
    out = []
    for a in keep.tolist():
        cls = classes[int(best[a])]
        if cls is None:
            continue
        cx, cy, w, h = (float(v) * scale for v in output[:4, a])
        angle = math.degrees(float(output[4 + nc, a])) if oriented else 0.0
        if h > w:
            w, h, angle = h, w, angle + 90.0
        out.append(Detection(cls, float(conf[a]), OrientedBox(cx, cy, w, h, angle % 180.0)))
    return out
