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

F32 = npt.NDArray[np.float32]


def decode_sitewatch(
    peaks: F32,
    boxes: F32,
    classes: Sequence[ObjectClass | None],
    thresholds: F32,
    stride: int,
) -> list[Detection]:
    """Detections from a centre-heatmap output (one tile)."""
    cls_idx, ys, xs = np.nonzero(peaks > thresholds[:, None, None])
    out = []
    for c, y, x in zip(cls_idx.tolist(), ys.tolist(), xs.tolist(), strict=True):
        cls = classes[c]
        if cls is None:
            continue
        dx, dy, log_l, log_w, s2, c2 = (float(v) for v in boxes[:, y, x])
        length = math.exp(min(log_l, 8.0)) * stride
        width = math.exp(min(log_w, 8.0)) * stride
        if width > length:
            length, width = width, length
            angle = math.degrees(0.5 * math.atan2(s2, c2)) + 90.0
        else:
            angle = math.degrees(0.5 * math.atan2(s2, c2))
        box = OrientedBox((x + dx) * stride, (y + dy) * stride, length, width, angle % 180.0)
        out.append(Detection(cls, float(peaks[c, y, x]), box))
    return out


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
