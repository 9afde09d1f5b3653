"""Merging detections across tiles and suppressing duplicates; pure.

`merge_detections` keeps each tile's detections whose centre lies in the tile's core (objects
cut by a border are thus kept once, by the tile that sees them whole). `suppress_duplicates` is a
class-wise non-maximum suppression on oriented-box IoU: it removes the second copy of an object
longer than the overlap, which two tiles may both see with centres on either side of a core edge.
`inner_peak_keep` (used by the centre-heatmap decode, on arrays) drops a detection whose centre
lies inside a higher-scored box of the same class: a centre heatmap of a long object (a rail car,
a truck) can have several local maxima along its axis, each decoding to a copy of the same box.
Vectorised, so cheap on dense tiles. All three are idempotent and independent of input order (ties broken by position).
`join_pieces` joins the pieces of an object too long for any one tile to see whole (a crane
whose box comes from its footprint, cut by tile borders) into one box over all of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree

from sitewatch.core.models import Detection, OrientedBox, box_corners
from sitewatch.detect.tiling import Tile


def shift_detection(d: Detection, dx: float, dy: float) -> Detection:
    """The detection moved by (dx, dy) pixels."""
    b = d.box
    return Detection(
        d.object_class,
        d.score,
        OrientedBox(b.cx + dx, b.cy + dy, b.length_px, b.width_px, b.angle_deg),
    )


def merge_detections(per_tile: Iterable[tuple[Tile, Sequence[Detection]]]) -> list[Detection]:
    """Detections in image pixels from (tile, detections in tile pixels) pairs, owned ones only."""
    out = []
    for tile, detections in per_tile:
        for d in detections:
            g = shift_detection(d, tile.col, tile.row)
            if tile.owns(g.box.cx, g.box.cy):
                out.append(g)
    return out


def extent_on_axes(
    points: npt.NDArray[np.float64], theta: float
) -> tuple[float, float, float, float]:
    """The rectangle around (n, 2) points with sides along angle `theta` (radians) and across
    it: centre x, centre y, extent along, extent across."""
    c, s = math.cos(theta), math.sin(theta)
    u = points[:, 0] * c + points[:, 1] * s
    v = -points[:, 0] * s + points[:, 1] * c
    mu, mv = (u.max() + u.min()) / 2, (v.max() + v.min()) / 2
    return (
        float(mu * c - mv * s),
        float(mu * s + mv * c),
        float(u.max() - u.min()),
        float(v.max() - v.min()),
    )


def min_area_rectangle(points: npt.NDArray[np.float64]) -> tuple[float, float, float, float, float]:
    """The minimum-area rectangle (cx, cy, length, width, angle in degrees) around (n, 2) points
    that span an area (rotating calipers over the convex hull)."""
    hull = np.asarray(shapely.convex_hull(shapely.multipoints(points)).exterior.coords)
    edges = np.diff(hull, axis=0)
    theta = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    u = hull[None, :, 0] * cos + hull[None, :, 1] * sin
    v = -hull[None, :, 0] * sin + hull[None, :, 1] * cos
    area = (u.max(axis=1) - u.min(axis=1)) * (v.max(axis=1) - v.min(axis=1))
    t = float(theta[int(np.argmin(area))])
    cx, cy, a, b = extent_on_axes(hull, t)
    angle = math.degrees(t) + (90.0 if b > a else 0.0)
    return cx, cy, max(a, b), min(a, b), angle % 180.0


def join_pieces(pieces: Sequence[Detection], others: Sequence[Detection]) -> list[Detection]:
    """`others` with the `pieces` (detections cut by a tile border) joined in.

    Pieces and detections of one class whose boxes intersect, through at least one piece, form
    one object: its box is the minimum-area rectangle over all their corners, its score their
    best. Detections of `others` that touch no piece are returned as they are.
    """
    every = list(pieces) + list(others)
    if not pieces:
        return list(others)
    polys = box_polygons(every)
    tree = STRtree(polys)
    parent = list(range(len(every)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(pieces)):
        for j in tree.query(polys[i], predicate="intersects").tolist():
            if j != i and every[j].object_class is every[i].object_class:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(every)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) == 1:
            out.append(every[members[0]])
            continue
        corners = np.concatenate([every[i].box.corners() for i in members]).astype(np.float64)
        cx, cy, length, width, angle = min_area_rectangle(corners)
        best = max(every[i].score for i in members)
        out.append(
            Detection(
                every[members[0]].object_class, best, OrientedBox(cx, cy, length, width, angle)
            )
        )
    return out


def box_polygons(detections: Sequence[Detection]) -> np.ndarray:
    """Shapely polygons of the boxes."""
    polygons: np.ndarray = shapely.polygons(box_corners([d.box for d in detections]))
    return polygons


def rotated_iou(a: OrientedBox, b: OrientedBox) -> float:
    """Intersection over union of two oriented boxes."""
    pa, pb = shapely.Polygon(a.corners()), shapely.Polygon(b.corners())
    union = pa.union(pb).area
    return float(pa.intersection(pb).area / union) if union > 0 else 0.0


def suppress_duplicates(detections: Sequence[Detection], iou: float = 0.5) -> list[Detection]:
    """Class-wise NMS on oriented IoU (also drops a box mostly inside a higher-scored one).

    The overlaps of all pairs whose bounding boxes meet are computed in one vectorised call
    (GEOS, as one pair at a time would); only the greedy pass in score order is a Python loop.
    """
    if not detections:
        return []
    n = len(detections)
    order = sorted(
        range(n),
        key=lambda i: (-detections[i].score, detections[i].box.cx, detections[i].box.cy),
    )
    polys = box_polygons(detections)
    cls = np.array([d.object_class.value for d in detections])
    a, b = STRtree(polys).query(polys)
    pair = (a < b) & (cls[a] == cls[b])
    a, b = a[pair], b[pair]
    inter = shapely.area(shapely.intersection(polys[a], polys[b]))
    area = shapely.area(polys)
    union = area[a] + area[b] - inter
    smaller = np.minimum(area[a], area[b])
    over_union = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    over_smaller = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    same = (over_union > iou) | (over_smaller > 0.8)
    twins: dict[int, list[int]] = {}
    for i, j in zip(a[same].tolist(), b[same].tolist(), strict=True):
        twins.setdefault(i, []).append(j)
        twins.setdefault(j, []).append(i)
    removed = np.zeros(n, dtype=bool)
    keep = []
    for i in order:
        if removed[i]:
            continue
        keep.append(i)
        removed[twins.get(i, [])] = True
    return [detections[i] for i in keep]


def inner_peak_keep(
    classes: npt.NDArray[Any],
    cx: npt.NDArray[np.float64],
    cy: npt.NDArray[np.float64],
    length: npt.NDArray[np.float64],
    width: npt.NDArray[np.float64],
    angle_deg: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Which detections to keep; the arrays are sorted by decreasing score.

    A detection goes when its centre lies inside the box of a higher-scored detection of the same
    class that is itself kept.
    """
    n = len(cx)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    dx, dy = cx[None, :] - cx[:, None], cy[None, :] - cy[:, None]  # [i, j]: j's centre from i's
    inside = np.abs(dx * cos + dy * sin) < length[:, None] / 2
    inside &= np.abs(dy * cos - dx * sin) < width[:, None] / 2
    inside &= classes[:, None] == classes[None, :]
    inside &= np.triu(np.ones((n, n), dtype=bool), 1)  # i scores higher than j
    for i in np.nonzero(inside.any(axis=1))[0].tolist():
        if keep[i]:
            keep &= ~inside[i]
    return keep
