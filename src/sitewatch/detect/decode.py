"""Turning raw model outputs of one tile into detections; pure numpy.

Layouts:
- `sitewatch`: `peaks` (C, h, w) class scores already reduced to 3x3 local maxima, and `boxes`
  (6, h, w): dx, dy, log length, log width (output cells), sin 2a, cos 2a; output stride 2.
  Optionally `masks` (M, h, w): per cell, the probability of lying on the footprint of an object
  of each mask class. A peak of a mask class that lies on a footprint (probability above
  MASK_THRESHOLD, 8-connected after closing one-cell gaps) takes that footprint's minimum-area
  rectangle as its box, and the footprint gives one detection, the best-scored peak on it. A
  crane's centre cell cannot measure 30-90 m of jib, but every cell along the jib can say it is
  on one. Peaks on no footprint keep their regressed box, unless the model declares the class
  `footprint_required`: then they are dropped. Most false crane peaks (on roofs, yards, long
  shadows) lie on no footprint, while a crane's own peak lies on its jib or rails.
  A class the model declares `footprint_axis` (large vehicles) keeps its regressed centre line,
  width and angle and takes only its length from the footprint: the mask is read (bilinear, at
  quarter-cell steps) along the regressed axis from the box centre both ways to where it falls
  to MASK_THRESHOLD, and where those two crossings lie further apart than the regressed length,
  the box spans them. A box is only ever lengthened: a footprint the mask finds in part (the
  0.10.0 experiment's large-vehicle mask found under half of the footprint cells) would
  otherwise shorten right boxes, which is what that experiment measured with the span taken
  whatever its length (commit 5793d3e). Vehicles parked side by side, a metre
  apart, would share one footprint rectangle; along its axis a vehicle's footprint ends at its
  own nose and tail. Such a peak gives one detection per peak (the inner-peak suppression
  below removes second peaks along the same vehicle, which now share its length).
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
from scipy import ndimage

from sitewatch.core.models import Detection, ObjectClass, OrientedBox
from sitewatch.detect.merge import inner_peak_keep, min_area_rectangle

F32 = npt.NDArray[np.float32]
MASK_THRESHOLD = 0.5
# half-sizes (output cells) of the windows a footprint is looked for in: 32 cells is 19 m at
# 0.3 m and stride 2; 192 cells (115 m) hold a whole 90 m crane seen from any cell of it
FOOTPRINT_REACH = (32, 192)
AXIS_STEP = 0.25  # output cells between the mask samples read along a footprint_axis box
_EIGHT = np.ones((3, 3), dtype=bool)


def _nonzero(a: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], ...]:
    """`np.nonzero` of an n-d array, through its flat indices: the same arrays, about seven
    times faster on a (5, 512, 512) tile's peaks (numpy 2.4)."""
    return np.unravel_index(np.flatnonzero(a), a.shape)


def decode_sitewatch(
    peaks: F32,
    boxes: F32,
    classes: Sequence[ObjectClass | None],
    thresholds: F32,
    stride: int,
    masks: F32 | None = None,
    mask_classes: Sequence[ObjectClass] = (),
    footprint_required: Sequence[ObjectClass] = (),
    footprint_axis: Sequence[ObjectClass] = (),
) -> list[Detection]:
    """Detections from a centre-heatmap output (one tile), in decreasing score order.

    A peak whose centre lies inside a higher-scored box of the same class is dropped
    (`inner_peak_keep`): the heatmap of a long object can peak more than once along its axis.
    Peaks of `mask_classes` take their box (of `footprint_axis`: their length) from the
    footprint in `masks`; those of `footprint_required` on no footprint are dropped (module
    docstring).
    """
    cls_idx, ys, xs = _nonzero(peaks > thresholds[:, None, None])
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
    keep = np.ones(len(cls_idx), dtype=bool)
    if masks is not None:
        for k, cls in enumerate(mask_classes):
            if cls not in classes:
                continue
            on = np.nonzero(cls_idx == classes.index(cls))[0]
            if on.size and cls in footprint_axis:
                keep &= _footprint_lengths(
                    masks[k],
                    ys,
                    xs,
                    on,
                    stride,
                    (cx, cy, length, width, angle),
                    required=cls in footprint_required,
                )
            elif on.size:
                keep &= _footprint_boxes(
                    masks[k],
                    ys,
                    xs,
                    on,
                    stride,
                    (cx, cy, length, width, angle),
                    required=cls in footprint_required,
                )
    keep &= inner_peak_keep(cls_idx, cx, cy, length, width, angle)
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


def _footprint_boxes(
    mask: F32,
    ys: npt.NDArray[np.int64],
    xs: npt.NDArray[np.int64],
    peaks: npt.NDArray[np.int64],
    stride: int,
    boxes: tuple[npt.NDArray[np.float64], ...],
    required: bool = False,
) -> npt.NDArray[np.bool_]:
    """Give the `peaks` (indices, best first) that lie on a footprint of `mask` its rectangle,
    in place in `boxes` (cx, cy, length, width, angle); which detections to keep (a footprint's
    later peaks go, and with `required` so do peaks on no footprint).

    The footprint is looked for in a window around the peak, grown while the footprint reaches
    the window's edge, so that a peak on no footprint (most false ones) costs a 3x3 look."""
    keep = np.ones(len(ys), dtype=bool)
    rows, cols = mask.shape
    taken = np.zeros(mask.shape, dtype=bool)
    for i in peaks.tolist():
        y, x = int(ys[i]), int(xs[i])
        near = _near(y, x)
        if taken[near].any():
            keep[i] = False
            continue
        if not (mask[near] > MASK_THRESHOLD).any():
            keep[i] = not required
            continue
        for reach in FOOTPRINT_REACH:
            r0, c0 = max(0, y - reach), max(0, x - reach)
            r1, c1 = min(rows, y + reach + 1), min(cols, x + reach + 1)
            window = mask[r0:r1, c0:c1] > MASK_THRESHOLD
            on = ndimage.binary_closing(window, _EIGHT, border_value=0) | window
            labels, _ = ndimage.label(on, _EIGHT)
            label = int(
                labels[max(0, y - r0 - 1) : y - r0 + 2, max(0, x - c0 - 1) : x - c0 + 2].max()
            )
            part = labels == label
            inner = (r0 == 0 or not part[0].any()) and (r1 == rows or not part[-1].any())
            inner &= (c0 == 0 or not part[:, 0].any()) and (c1 == cols or not part[:, -1].any())
            if inner:
                break
        cy_cells, cx_cells = _nonzero(part)
        taken[r0:r1, c0:c1] |= part
        rect = footprint_rectangle(cx_cells + c0, cy_cells + r0, stride)
        for array, value in zip(boxes, rect, strict=True):
            array[i] = value
    return keep


def _footprint_lengths(
    mask: F32,
    ys: npt.NDArray[np.int64],
    xs: npt.NDArray[np.int64],
    peaks: npt.NDArray[np.int64],
    stride: int,
    boxes: tuple[npt.NDArray[np.float64], ...],
    required: bool = False,
) -> npt.NDArray[np.bool_]:
    """Give the `peaks` (indices) whose box centre lies on a footprint of `mask` the length of
    that footprint along the box's axis where it is longer than the box, in place in `boxes`
    (cx, cy, length, width, angle; the centre moves along the axis to the middle of the
    span); which detections to keep (with `required`, not the peaks on no footprint). Reads up
    to FOOTPRINT_REACH[0] cells each way."""
    cx, cy, length, _, angle = boxes
    keep = np.ones(len(ys), dtype=bool)
    on = np.array(
        [
            bool((mask[_near(y, x)] > MASK_THRESHOLD).any())
            for y, x in zip(ys[peaks].tolist(), xs[peaks].tolist(), strict=True)
        ],
        dtype=bool,
    )
    if required:
        keep[peaks[~on]] = False
    chosen = peaks[on]
    if chosen.size == 0:
        return keep
    theta = np.radians(angle[chosen])
    ux, uy = np.cos(theta), np.sin(theta)
    t = np.arange(0, int(FOOTPRINT_REACH[0] / AXIS_STEP) + 1, dtype=np.float64) * AXIS_STEP
    ends = []
    for sign in (1.0, -1.0):
        col = (cx[chosen] / stride - 0.5)[:, None] + sign * ux[:, None] * t[None]
        row = (cy[chosen] / stride - 0.5)[:, None] + sign * uy[:, None] * t[None]
        values = ndimage.map_coordinates(mask, [row, col], order=1, mode="constant", cval=0.0)
        ends.append(_crossing(values, t))
    plus, minus = ends
    span = (plus + minus) * stride
    good = (plus > 0) & (minus > 0) & (span > length[chosen])
    idx = chosen[good]
    shift = (plus[good] - minus[good]) / 2 * stride
    cx[idx] += shift * ux[good]
    cy[idx] += shift * uy[good]
    length[idx] = span[good]
    return keep


def _near(y: int, x: int) -> tuple[slice, slice]:
    """The 3x3 cells around a peak (clipped at the top and left; numpy clips the rest), where
    a peak counts as on a footprint."""
    return slice(max(0, y - 1), y + 2), slice(max(0, x - 1), x + 2)


def _crossing(
    values: npt.NDArray[np.float64], t: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per row of `values` (samples at distances `t`), the distance where it first falls to
    MASK_THRESHOLD, interpolated between samples (0 where the first sample is already below,
    the last distance where none is)."""
    below = values <= MASK_THRESHOLD
    first = np.where(below.any(axis=1), below.argmax(axis=1), len(t) - 1)
    out = np.zeros(len(values))
    inside = first > 0
    k = first[inside]
    rows = np.nonzero(inside)[0]
    v0, v1 = values[rows, k - 1], values[rows, k]
    frac = np.where(v0 > v1, (v0 - MASK_THRESHOLD) / np.maximum(v0 - v1, 1e-9), 1.0)
    out[inside] = t[k - 1] + np.clip(frac, 0.0, 1.0) * (t[k] - t[k - 1])
    return out


def footprint_rectangle(
    cols: npt.NDArray[np.int64], rows: npt.NDArray[np.int64], stride: int
) -> tuple[float, float, float, float, float]:
    """The minimum-area rectangle (cx, cy, length, width, angle in degrees, pixels) holding the
    given output cells whole."""
    corners = np.concatenate(
        [
            np.stack([(cols + ox) * stride, (rows + oy) * stride], axis=1)
            for ox in (0, 1)
            for oy in (0, 1)
        ]
    ).astype(np.float64)
    return min_area_rectangle(corners)
