"""Label loaders: YOLO txt, YOLO-OBB, DOTA labelTxt, COCO JSON and xView GeoJSON, onto our classes.

Every loader returns `LabelledImage`s whose boxes are pixel corner arrays (x = column, y = row).
Axis-aligned sources (YOLO txt, COCO bbox, xView) are marked `oriented=False`: the object's
orientation inside its box is unknown, and training and evaluation treat it so. Objects of classes
that map to None are dropped; `labelled` lists the classes the source annotates exhaustively.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import ObjectClass
from sitewatch.detect.taxonomy import XVIEW
from sitewatch.errors import InputError
from sitewatch.imagery.pixels import read_image_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class LabelledBox:
    """One labelled object: class and (4, 2) pixel corners."""

    object_class: ObjectClass
    corners: npt.NDArray[np.float64]
    oriented: bool


@dataclass(frozen=True)
class LabelledImage:
    """An image with its labels, its ground sample distance (None: unknown) and its group.

    `group` is the place or flight sequence the image belongs to, for splitting.
    """

    image_path: Path
    boxes: tuple[LabelledBox, ...]
    gsd_m: float | None
    source: str
    labelled: frozenset[ObjectClass]
    group: str = ""
    generated: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)
    # a pixel value that marks no data in every band where the file does not tag it
    nodata: float | None = None
    # how often training draws its crops, relative to a frame of the same size
    weight: float = 1.0

    def with_gsd(self, gsd_m: float) -> LabelledImage:
        """The same image with a known GSD."""
        return replace(self, gsd_m=gsd_m)


def _labelled(mapping: Mapping[str, ObjectClass | None]) -> frozenset[ObjectClass]:
    return frozenset(c for c in mapping.values() if c is not None)


def _aabb_corners(x0: float, y0: float, x1: float, y1: float) -> npt.NDArray[np.float64]:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _images(images_dir: Path) -> list[Path]:
    if not images_dir.is_dir():
        raise InputError(f"{images_dir}: not a folder of images")
    return sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_names(names: Path | Sequence[str]) -> list[str]:
    if isinstance(names, Path):
        return [line.strip() for line in names.read_text().splitlines() if line.strip()]
    return list(names)


def _numbers(line: str, path: Path, lineno: int, count: int) -> list[float]:
    parts = line.split()
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise InputError(f"{path}:{lineno}: not numbers: {line.strip()!r}") from None
    if len(values) != count:
        raise InputError(f"{path}:{lineno}: expected {count} numbers, got {len(values)}")
    return values


def load_yolo(
    images_dir: Path,
    labels_dir: Path,
    names: Path | Sequence[str],
    mapping: Mapping[str, ObjectClass | None],
    gsd_m: float | None = None,
    obb: bool = False,
    source: str = "yolo",
) -> list[LabelledImage]:
    """YOLO txt (`cls cx cy w h`) or YOLO-OBB (`cls x1 y1 x2 y2 x3 y3 x4 y4`), coordinates 0-1.

    Images without a label file are kept with no boxes (negatives).
    """
    class_names = _read_names(names)
    out: list[LabelledImage] = []
    for image in _images(images_dir):
        rows, cols = read_image_size(image)
        boxes: list[LabelledBox] = []
        label = labels_dir / f"{image.stem}.txt"
        lines = label.read_text().splitlines() if label.exists() else []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            values = _numbers(line, label, lineno, 9 if obb else 5)
            index = int(values[0])
            if not 0 <= index < len(class_names):
                raise InputError(f"{label}:{lineno}: class index {index} has no name")
            cls = mapping.get(class_names[index])
            if cls is None:
                continue
            if obb:
                pts = np.array(values[1:], dtype=np.float64).reshape(4, 2) * [cols, rows]
                boxes.append(LabelledBox(cls, pts, True))
            else:
                cx, cy, w, h = (
                    values[1] * cols,
                    values[2] * rows,
                    values[3] * cols,
                    values[4] * rows,
                )
                corners = _aabb_corners(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                boxes.append(LabelledBox(cls, corners, False))
        out.append(
            LabelledImage(image, tuple(boxes), gsd_m, source, _labelled(mapping), image.stem)
        )
    return out


_DOTA_GSD = re.compile(r"^gsd:\s*([0-9.]+)")


def load_dota(
    images_dir: Path,
    labels_dir: Path,
    mapping: Mapping[str, ObjectClass | None],
    gsd_m: float | None = None,
    source: str = "dota",
) -> list[LabelledImage]:
    """DOTA labelTxt: `x1 y1 ... x4 y4 class difficult` in pixels, optional `gsd:` header."""
    out: list[LabelledImage] = []
    for image in _images(images_dir):
        label = labels_dir / f"{image.stem}.txt"
        boxes: list[LabelledBox] = []
        image_gsd = gsd_m
        lines = label.read_text().splitlines() if label.exists() else []
        for lineno, line in enumerate(lines, 1):
            m = _DOTA_GSD.match(line.strip())
            if m:
                value = float(m.group(1)) if m.group(1) not in ("", ".") else 0.0
                image_gsd = value if value > 0 else image_gsd
                continue
            parts = line.split()
            if len(parts) < 9 or line.startswith("imagesource"):
                continue
            values = _numbers(" ".join(parts[:8]), label, lineno, 8)
            cls = mapping.get(parts[8])
            if cls is None:
                continue
            pts = np.array(values, dtype=np.float64).reshape(4, 2)
            boxes.append(LabelledBox(cls, pts, True))
        out.append(
            LabelledImage(image, tuple(boxes), image_gsd, source, _labelled(mapping), image.stem)
        )
    return out


def load_coco(
    annotations: Path,
    images_dir: Path,
    mapping: Mapping[str, ObjectClass | None],
    gsd_m: float | None = None,
    source: str = "coco",
) -> list[LabelledImage]:
    """COCO detection JSON (`bbox` = x, y, width, height in pixels), categories by name."""
    try:
        doc = json.loads(annotations.read_text())
        categories = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
        images = {int(i["id"]): str(i["file_name"]) for i in doc["images"]}
        anns = doc.get("annotations", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{annotations}: not a COCO detection file ({exc})") from exc
    per_image: dict[int, list[LabelledBox]] = {i: [] for i in images}
    for ann in anns:
        cls = mapping.get(categories.get(int(ann["category_id"]), ""))
        if cls is None or int(ann["image_id"]) not in per_image:
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        per_image[int(ann["image_id"])].append(
            LabelledBox(cls, _aabb_corners(x, y, x + w, y + h), False)
        )
    return [
        LabelledImage(
            images_dir / name,
            tuple(per_image[i]),
            gsd_m,
            source,
            _labelled(mapping),
            Path(name).stem,
        )
        for i, name in sorted(images.items())
    ]


def load_xview(
    geojson: Path,
    images_dir: Path,
    gsd_m: float | None = 0.3,
    mapping: Mapping[int, tuple[str, ObjectClass | None]] = XVIEW,
    source: str = "xview",
) -> list[LabelledImage]:
    """xView GeoJSON: features with `bounds_imcoords` "x0,y0,x1,y1", `type_id` and `image_id`."""
    try:
        features = json.loads(geojson.read_text())["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{geojson}: not an xView GeoJSON file ({exc})") from exc
    per_image: dict[str, list[LabelledBox]] = {}
    for feature in features:
        props = feature.get("properties", {})
        image_id = str(props.get("image_id", ""))
        entry = mapping.get(int(props.get("type_id", -1)))
        per_image.setdefault(image_id, [])
        if entry is None or entry[1] is None:
            continue
        x0, y0, x1, y1 = (float(v) for v in str(props["bounds_imcoords"]).split(","))
        per_image[image_id].append(LabelledBox(entry[1], _aabb_corners(x0, y0, x1, y1), False))
    labelled = frozenset(c for _, c in mapping.values() if c is not None)
    return [
        LabelledImage(images_dir / name, tuple(boxes), gsd_m, source, labelled, Path(name).stem)
        for name, boxes in sorted(per_image.items())
        if (images_dir / name).exists()
    ]


def box_size_px(corners: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(long side, short side) of a corner box."""
    a = float(np.hypot(*(corners[1] - corners[0])))
    b = float(np.hypot(*(corners[2] - corners[1])))
    return max(a, b), min(a, b)


def estimate_gsd_from_cars(
    images: Iterable[LabelledImage], car_length_m: float = 4.5, min_elongation: float = 1.6
) -> float | None:
    """Ground sample distance from the median length of labelled cars, in metres per pixel.

    Only boxes elongated by `min_elongation` or more count: a car seen diagonally inside an
    axis-aligned box would read too long. Returns None when fewer than 5 such cars exist.
    """
    lengths = []
    for image in images:
        for b in image.boxes:
            if b.object_class is not ObjectClass.SMALL_VEHICLE:
                continue
            long_side, short_side = box_size_px(b.corners)
            if short_side > 0 and long_side / short_side >= min_elongation:
                lengths.append(long_side)
    if len(lengths) < 5:
        return None
    return car_length_m / float(np.median(lengths))


@dataclass(frozen=True)
class GsdEstimate:
    """How the GSDs of a data set's frames were estimated from their cars."""

    pooled_m: float  # from every frame's cars together: the fallback
    low_m: float
    high_m: float
    own: int  # frames with enough cars of their own
    frames: int

    def __str__(self) -> str:
        return (
            f"{self.low_m:.4f}-{self.high_m:.4f} m per frame ({self.own} of {self.frames} frames "
            f"from their own cars, the others {self.pooled_m:.4f} m from all cars pooled)"
        )


def with_estimated_gsd(
    images: Sequence[LabelledImage],
) -> tuple[list[LabelledImage], GsdEstimate | None]:
    """Frames of unknown GSD get one estimated from their own cars (a drone changes altitude
    between flights, so one figure per data set would scale whole sequences wrongly), or from
    the cars of all such frames pooled where a frame has too few. None: too few cars (or no
    frame of unknown GSD)."""
    pooled = estimate_gsd_from_cars([i for i in images if i.gsd_m is None])
    if pooled is None:
        return list(images), None
    out, values, own = [], [], 0
    for image in images:
        if image.gsd_m is not None:
            out.append(image)
            continue
        gsd = estimate_gsd_from_cars([image])
        own += gsd is not None
        values.append(gsd or pooled)
        out.append(image.with_gsd(gsd or pooled))
    if not values:
        return out, None
    return out, GsdEstimate(pooled, min(values), max(values), own, len(values))


def split_by_pattern(
    images: Sequence[LabelledImage], val_pattern: str, exclude_pattern: str | None = None
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """(train, validation): images whose group matches `val_pattern` go to validation.

    Patterns name places or flight sequences, never random frames; `exclude_pattern` drops
    frames that border both sides (overlapping neighbours).
    """
    val_re = re.compile(val_pattern)
    ex_re = re.compile(exclude_pattern) if exclude_pattern else None
    train: list[LabelledImage] = []
    val: list[LabelledImage] = []
    for image in images:
        if ex_re is not None and ex_re.search(image.group):
            continue
        (val if val_re.search(image.group) else train).append(image)
    return train, val


def polygon_angle_deg(corners: npt.NDArray[np.float64]) -> float:
    """Direction of the long side of a corner box, degrees in [0, 180)."""
    e1 = corners[1] - corners[0]
    e2 = corners[2] - corners[1]
    edge = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    return math.degrees(math.atan2(edge[1], edge[0])) % 180.0
