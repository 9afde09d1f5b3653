"""Model specifications: what a detector model is, read from the model itself or from a YAML.

sitewatch models carry their spec as JSON under the ONNX metadata key `sitewatch`. Models brought
by the user (Ultralytics YOLO detect or OBB exports) are registered with a small YAML next to
them:

    model: yolo11n-obb.onnx        # relative to the YAML
    layout: yolo-obb               # or yolo-detect
    input_px: 1024                 # the model's square input size (also the tile size)
    gsd_m: [0.25, 0.6]             # the GSD range it was trained for
    work_gsd_m: 0.3                # optional: read coarser imagery interpolated up to this GSD
    classes:                       # model class index -> sitewatch class (others are ignored)
      9: small_vehicle
      10: large_vehicle
    num_classes: 15                # how many classes the model outputs
    thresholds: {small_vehicle: 0.3}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sitewatch.core.models import ModelInfo, ObjectClass
from sitewatch.detect.taxonomy import parse_object_class
from sitewatch.documents import load_yaml_model
from sitewatch.errors import ConfigError, ModelError

Layout = Literal["sitewatch", "yolo-detect", "yolo-obb"]
METADATA_KEY = "sitewatch"
DEFAULT_THRESHOLD = 0.3


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to run a model and to record it as provenance."""

    path: Path
    model_id: str
    layout: Layout
    classes: tuple[ObjectClass | None, ...]
    input_px: int
    gsd_min_m: float
    gsd_max_m: float
    thresholds: Mapping[ObjectClass, float] = field(default_factory=dict)
    stride: int = 2
    calibration: Mapping[ObjectClass, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    work_gsd_m: float | None = None
    # sitewatch layout: classes with an extent mask output (`masks`), boxes from footprints
    mask_classes: tuple[ObjectClass, ...] = ()
    # mask classes whose peaks count only on a footprint: a peak on none is dropped (decode.py)
    footprint_required: tuple[ObjectClass, ...] = ()
    # mask classes whose boxes are only lengthened to their footprint's extent along their
    # regressed axis; the other mask classes take the footprint's rectangle (decode.py)
    footprint_axis: tuple[ObjectClass, ...] = ()
    # per class, the shortest object of that class there is, in metres: shorter boxes are
    # dropped after tiling (detect/run.py)
    min_length_m: Mapping[ObjectClass, float] = field(default_factory=dict)

    @property
    def footprint_classes(self) -> tuple[ObjectClass, ...]:
        """The mask classes whose boxes are their footprints' rectangles (any length: tiling
        joins their pieces across tile borders, detect/run.py)."""
        return tuple(c for c in self.mask_classes if c not in self.footprint_axis)

    def threshold(self, cls: ObjectClass) -> float:
        """Operating threshold of a class."""
        return float(self.thresholds.get(cls, DEFAULT_THRESHOLD))

    def to_info(self, sha256: str) -> ModelInfo:
        """The provenance record of this model, given its file's hash."""
        return ModelInfo(
            self.model_id,
            sha256,
            self.layout,
            self.classes,
            self.input_px,
            self.gsd_min_m,
            self.gsd_max_m,
            dict(self.thresholds),
            dict(self.calibration),
            self.work_gsd_m,
            self.footprint_classes,
            dict(self.min_length_m),
        )

    def to_metadata(self) -> str:
        """The JSON stored in a sitewatch ONNX file."""
        return json.dumps(
            {
                "model_id": self.model_id,
                "layout": self.layout,
                "classes": [c.value if c else None for c in self.classes],
                "input_px": self.input_px,
                "gsd_m": [self.gsd_min_m, self.gsd_max_m],
                "thresholds": {c.value: t for c, t in self.thresholds.items()},
                "stride": self.stride,
                **({"work_gsd_m": self.work_gsd_m} if self.work_gsd_m is not None else {}),
                **(
                    {"mask_classes": [c.value for c in self.mask_classes]}
                    if self.mask_classes
                    else {}
                ),
                **(
                    {"footprint_required": [c.value for c in self.footprint_required]}
                    if self.footprint_required
                    else {}
                ),
                **(
                    {"footprint_axis": [c.value for c in self.footprint_axis]}
                    if self.footprint_axis
                    else {}
                ),
                **(
                    {"min_length_m": {c.value: v for c, v in self.min_length_m.items()}}
                    if self.min_length_m
                    else {}
                ),
            }
        )


def spec_from_metadata(path: Path, text: str) -> ModelSpec:
    """A spec from the JSON in a sitewatch ONNX file."""
    try:
        doc = json.loads(text)
        classes = tuple(parse_object_class(c, where=f"{path} classes") for c in doc["classes"])
        thresholds = {ObjectClass(k): float(v) for k, v in doc.get("thresholds", {}).items()}
        mask_classes = tuple(ObjectClass(c) for c in doc.get("mask_classes", []))
        required = tuple(ObjectClass(c) for c in doc.get("footprint_required", []))
        axis = tuple(ObjectClass(c) for c in doc.get("footprint_axis", []))
        min_length = parse_min_length(doc.get("min_length_m", {}))
        for key, named in (("footprint_required", required), ("footprint_axis", axis)):
            if not set(named) <= set(mask_classes):
                raise ValueError(
                    f"{key} {[c.value for c in named]} names classes without a "
                    f"mask (mask_classes {[c.value for c in mask_classes]})"
                )
        return ModelSpec(
            path,
            str(doc["model_id"]),
            doc["layout"],
            classes,
            int(doc["input_px"]),
            float(doc["gsd_m"][0]),
            float(doc["gsd_m"][1]),
            thresholds,
            int(doc.get("stride", 2)),
            work_gsd_m=_work_gsd(
                doc.get("work_gsd_m"), float(doc["gsd_m"][0]), float(doc["gsd_m"][1])
            ),
            mask_classes=mask_classes,
            footprint_required=required,
            footprint_axis=axis,
            min_length_m=min_length,
        )
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise ModelError(f"{path}: sitewatch metadata is not valid ({exc})") from exc


def parse_min_length(value: object) -> dict[ObjectClass, float]:
    """Per-class minimum lengths in metres from a {class: metres} mapping.

    Raises:
        ValueError: not a mapping, an unknown class, or a length that is not positive.
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"min_length_m must map classes to metres, not {value!r}")
    out = {}
    for k, v in value.items():
        metres = float(v)
        if not metres > 0:
            raise ValueError(f"min_length_m of {k}: {v} is not a positive length")
        out[ObjectClass(k)] = metres
    return out


def _work_gsd(value: object, lo: float, hi: float) -> float | None:
    """A declared working GSD, which must lie inside the model's range."""
    if value is None:
        return None
    work = float(value)  # type: ignore[arg-type]
    if not lo <= work <= hi:
        raise ValueError(f"work_gsd_m {work:g} lies outside the GSD range {lo:g}-{hi:g} m")
    return work


class _Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Path
    layout: Literal["yolo-detect", "yolo-obb"]
    input_px: int
    gsd_m: tuple[float, float]
    work_gsd_m: float | None = None
    classes: dict[int, str]
    num_classes: int
    thresholds: dict[str, float] = {}
    model_id: str | None = None


def spec_from_yaml(path: Path) -> ModelSpec:
    """A spec from a bring-your-own-model YAML.

    Raises:
        ConfigError: the YAML is not valid (unknown field, class or layout).
    """
    reg = load_yaml_model(path, _Registration, "model registration")
    if reg.num_classes <= 0 or any(not 0 <= i < reg.num_classes for i in reg.classes):
        raise ConfigError(f"{path}: classes: indices must lie in 0..num_classes-1")
    lo, hi = reg.gsd_m
    if not 0 < lo <= hi:
        raise ConfigError(f"{path}: gsd_m: need 0 < min <= max, got {reg.gsd_m}")
    try:
        work = _work_gsd(reg.work_gsd_m, lo, hi)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    classes: list[ObjectClass | None] = [None] * reg.num_classes
    for i, name in reg.classes.items():
        classes[i] = parse_object_class(name, where=f"{path}: classes[{i}]")
    thresholds: dict[ObjectClass, float] = {}
    for name, value in reg.thresholds.items():
        cls = parse_object_class(name, where=f"{path}: thresholds")
        if cls is not None:
            thresholds[cls] = value
    model_path = (path.parent / reg.model).resolve()
    return ModelSpec(
        model_path,
        reg.model_id or model_path.stem,
        reg.layout,
        tuple(classes),
        reg.input_px,
        lo,
        hi,
        thresholds,
        1,
        work_gsd_m=work,
    )
