"""Merging detections across tiles and suppressing duplicates; pure.

`merge_detections` keeps each tile's detections whose centre lies in the tile's core (objects
cut by a border are thus kept once, by the tile that sees them whole). `suppress_duplicates` is a
class-wise non-maximum suppression on oriented-box IoU: it removes the second copy of an object
longer than the overlap, which two tiles may both see with centres on either side of a core edge.
Both are idempotent and independent of input order (ties broken by position).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely import STRtree

from sitewatch.core.models import Detection, OrientedBox
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


def box_polygons(detections: Sequence[Detection]) -> np.ndarray:
    """Shapely polygons of the boxes."""
    return np.array([shapely.Polygon(d.box.corners()) for d in detections], dtype=object)


def rotated_iou(a: OrientedBox, b: OrientedBox) -> float:
    """Intersection over union of two oriented boxes."""
    pa, pb = shapely.Polygon(a.corners()), shapely.Polygon(b.corners())
    union = pa.union(pb).area
    return float(pa.intersection(pb).area / union) if union > 0 else 0.0


def suppress_duplicates(detections: Sequence[Detection], iou: float = 0.5) -> list[Detection]:
    """Class-wise NMS on oriented IoU (also drops a box mostly inside a higher-scored one)."""
    if not detections:
        return []
    order = sorted(
        range(len(detections)),
        key=lambda i: (-detections[i].score, detections[i].box.cx, detections[i].box.cy),
    )
    polys = box_polygons(detections)
    tree = STRtree(polys)
    removed = np.zeros(len(detections), dtype=bool)
    keep = []
    for i in order:
        if removed[i]:
            continue
        keep.append(i)
        for j in tree.query(polys[i]):
            if j == i or removed[j] or detections[j].object_class is not detections[i].object_class:
                continue
            inter = polys[i].intersection(polys[j]).area
            union = polys[i].area + polys[j].area - inter
            smaller = min(polys[i].area, polys[j].area)
            if (union > 0 and inter / union > iou) or (smaller > 0 and inter / smaller > 0.8):
                removed[j] = True
    return [detections[i] for i in keep]
