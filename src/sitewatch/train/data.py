"""Loading the data sets of a training configuration, with their train/validation split."""

from __future__ import annotations

from dataclasses import dataclass

from sitewatch.detect.taxonomy import class_map
from sitewatch.errors import ConfigError
from sitewatch.train.config import DatasetConfig, TrainConfig
from sitewatch.train.labels import (
    IMAGE_SUFFIXES,
    GsdEstimate,
    LabelledImage,
    load_coco,
    load_dota,
    load_xview,
    load_yolo,
    split_by_pattern,
    with_estimated_gsd,
)


@dataclass(frozen=True)
class Split:
    """Training and validation images of every data set and background."""

    train: list[LabelledImage]
    val: list[LabelledImage]
    train_backgrounds: list[LabelledImage]
    val_backgrounds: list[LabelledImage]
    gsd_estimates: dict[str, GsdEstimate]


def load_dataset(d: DatasetConfig) -> tuple[list[LabelledImage], GsdEstimate | None]:
    """All images of one data set, with GSD filled in (given, or estimated from car sizes frame
    by frame), and how it was estimated (None: given)."""
    mapping = class_map(d.classes)
    gsd = d.gsd_m if isinstance(d.gsd_m, float) else None
    if d.format in ("yolo", "yolo-obb"):
        if d.names is None:
            raise ConfigError(f"data set {d.name!r}: YOLO labels need `names`")
        images = load_yolo(
            d.images, d.labels, d.names, mapping, gsd, obb=d.format == "yolo-obb", source=d.name
        )
    elif d.format == "dota":
        images = load_dota(d.images, d.labels, mapping, gsd, source=d.name)
    elif d.format == "coco":
        images = load_coco(d.labels, d.images, mapping, gsd, source=d.name)
    else:
        images = load_xview(d.labels, d.images, gsd or 0.3, source=d.name)
    if d.gsd_m != "estimate" and all(i.gsd_m is not None for i in images):
        return images, None
    images, estimate = with_estimated_gsd(images)
    if estimate is None:
        raise ConfigError(
            f"data set {d.name!r}: GSD unknown and too few cars to estimate it; set gsd_m"
        )
    return images, estimate


def load_split(config: TrainConfig) -> Split:
    """Every data set and background of a configuration, split by place or sequence."""
    train, val = [], []
    estimates: dict[str, GsdEstimate] = {}
    for d in config.datasets:
        images, estimate = load_dataset(d)
        if estimate is not None:
            estimates[d.name] = estimate
        tr, va = split_by_pattern(images, d.val_pattern, d.exclude_pattern)
        train += tr
        val += va
    tb, vb = [], []
    for b in config.backgrounds:
        frames = [
            LabelledImage(
                p, (), b.gsd_m, b.name, frozenset(), p.stem, nodata=b.nodata, weight=b.weight
            )
            for p in sorted(b.images.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES
        ]
        tr, va = split_by_pattern(frames, b.val_pattern)
        tb += tr
        vb += va
    return Split(train, val, tb, vb, estimates)
