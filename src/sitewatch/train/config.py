"""The training configuration (YAML): data sets with their splits and licences, GSD range, schedule.

Paths are relative to the configuration file. Validation images are chosen by a pattern on the
image's group (place or flight sequence), never at random.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sitewatch.core.models import ObjectClass
from sitewatch.documents import load_yaml_model

if TYPE_CHECKING:
    from sitewatch.train.synth import GeneratorOptions

Format = Literal["yolo", "yolo-obb", "dota", "coco", "xview"]


class DatasetConfig(BaseModel):
    """One labelled data set."""

    model_config = ConfigDict(extra="forbid")
    name: str
    format: Format
    images: Path
    labels: Path
    names: Path | None = None
    classes: str | dict[str, str | None]
    gsd_m: float | Literal["estimate"] | None = None
    val_pattern: str
    exclude_pattern: str | None = None
    licence: str


class BackgroundConfig(BaseModel):
    """Unlabelled real frames to draw generated objects on (vehicles there are not labelled)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    images: Path
    gsd_m: float
    val_pattern: str
    licence: str
    # a pixel value that marks no data in every band, for files that do not tag it (a black
    # collar around a chip): such pixels stay out of the loss and nothing is drawn on them
    nodata: float | None = None
    # how often its crops are drawn, relative to a frame of the same size (1: by size alone)
    weight: float = Field(default=1.0, gt=0)


class TrainingRun(BaseModel):
    """What every training run has (detector and change model): where it writes, its schedule
    (read by train/loop.py) and the checkpoint it may continue from."""

    model_config = ConfigDict(extra="forbid")
    out: Path
    steps: int
    batch: int
    crop_px: int
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    checkpoint_every: int
    threads: int = 2
    # a checkpoint to start from (weights, optimiser, step); for the detector, also a released
    # fp32 model (.onnx, its weights only; train/from_onnx.py), with continue_step
    continue_from: Path | None = None

    def resolve_paths(self, base: Path) -> None:
        """Make the run's own paths absolute, relative to the configuration's folder."""
        self.out = (base / self.out).resolve()
        if self.continue_from is not None:
            self.continue_from = (base / self.continue_from).resolve()


class TrainConfig(TrainingRun):
    """A detector training run."""

    name: str = "sitewatch-det"
    version: str
    gsd_range_m: tuple[float, float] = (0.25, 0.6)
    # the GSD the released model reads imagery at (coarser imagery in range is interpolated up)
    work_gsd_m: float | None = None
    gsd_levels_m: list[float] = Field(default_factory=lambda: [0.25, 0.3, 0.35, 0.4, 0.5, 0.6])
    crop_px: int = 192
    batch: int = 16
    steps: int = 5000
    checkpoint_every: int = 100
    generated_probability: float = 0.6
    # probability that a crop is a background turned by any angle and rescaled, real objects out
    # of the loss, with generated objects drawn on it (train/dataset.py); 0: none
    background_warp: float = Field(default=0.0, ge=0.0, le=1.0)
    # per generated class, how many times as often its objects are drawn (train/dataset.py);
    # classes not named: 1. e.g. {large_vehicle: 2, crane: 2}
    generated_weights: dict[ObjectClass, int] = Field(default_factory=dict)
    # probability that a generated large vehicle is a row of them parked side by side
    # (train/synth.py large_vehicle_row); 0: single vehicles only, the earlier sample stream
    vehicle_rows: float = Field(default=0.0, ge=0.0, le=1.0)
    # probability that a crop with generated objects also gets an unlabelled mooring: boats moored
    # side by side at a pier in a strip of water, as negatives (train/synth.py mooring); 0: none
    moorings: float = Field(default=0.0, ge=0.0, le=1.0)
    # probability that a mooring drawn gets 1-3 large vehicles (labelled) parked on its quay, along
    # the water's edge or nose to it (train/synth.py _draw_quay_vehicles); 0: none
    quay_vehicles: float = Field(default=0.0, ge=0.0, le=1.0)
    # generated large vehicles also in school-bus yellow, tan, orange, green and brown
    # (train/synth.py WIDE_VEHICLE_COLOURS); false: the earlier five colours and sample stream
    wide_palette: bool = False
    # probability that a row of parked large vehicles (vehicle_rows) stands in angled bays, each
    # vehicle further along its axis than its neighbour (train/synth.py large_vehicle_row); 0: none
    angled_rows: float = Field(default=0.0, ge=0.0, le=1.0)
    # probability that a crop gets another sensor's colours (band mixing, gains, saturation
    # 0-1.5, gamma; train/dataset.py); 0: none
    colour_jitter: float = Field(default=0.0, ge=0.0, le=1.0)
    # decay of an exponential moving average of the weights, which a release exports
    # (train/loop.py); None: the weights of the last step
    ema_decay: float | None = Field(default=None, gt=0.0, lt=1.0)
    # an extra stride-32 stage in the network: true, or "residual" to grow it onto a checkpoint
    # trained without one (see train/model.py)
    context_stage: bool | Literal["residual"] = False
    # classes given extent masks (footprint per output cell; train/model.py), e.g. [crane]
    mask_classes: list[ObjectClass] = Field(default_factory=list)
    # mask classes whose peaks count only on a footprint (detect/decode.py); inference only
    footprint_required: list[ObjectClass] = Field(default_factory=list)
    # mask classes whose boxes keep their regressed centre line, width and angle and are
    # lengthened to their footprint's extent along that axis where it is longer (vehicles parked
    # side by side would share one footprint rectangle); other mask classes take the rectangle
    footprint_axis: list[ObjectClass] = Field(default_factory=list)
    # per class, the shortest object of that class there is (metres): shorter boxes are dropped
    # after tiling (detect/run.py); inference only, e.g. {crane: 8}
    min_length_m: dict[ObjectClass, float] = Field(default_factory=dict)
    # train on crops read as inference reads them: coarser levels interpolated up to work_gsd_m
    train_at_work_gsd: bool = False
    release_note: str | None = None  # printed in the model card (what this release changes)
    # the step a released model named as continue_from was trained to (its schedule goes on there)
    continue_step: int | None = None
    # other released fp32 models of the same network: the run starts from the uniform mean of
    # their folded convolutions and continue_from's (train/from_onnx.py); needs continue_step
    average_with: list[Path] = Field(default_factory=list)
    datasets: list[DatasetConfig]
    backgrounds: list[BackgroundConfig] = Field(default_factory=list)

    def resolve_paths(self, base: Path) -> None:
        super().resolve_paths(base)
        self.average_with = [(base / p).resolve() for p in self.average_with]

    def generator_options(self) -> GeneratorOptions:
        """The generator options of this run, for the sample source (train/synth.py): each
        option is the YAML field of the same name."""
        from sitewatch.train.synth import GeneratorOptions  # numpy and shapely: training only

        names = (f.name for f in dataclasses.fields(GeneratorOptions))
        return GeneratorOptions(**{name: getattr(self, name) for name in names})

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.crop_px % 32:
            raise ValueError("crop_px must be a multiple of 32")
        lo, hi = self.gsd_range_m
        if not 0 < lo < hi:
            raise ValueError("gsd_range_m must be (min, max) with 0 < min < max")
        if self.work_gsd_m is not None and not lo <= self.work_gsd_m <= hi:
            raise ValueError("work_gsd_m must lie inside gsd_range_m")
        if self.train_at_work_gsd and self.work_gsd_m is None:
            raise ValueError("train_at_work_gsd needs work_gsd_m")
        if not set(self.footprint_required) <= set(self.mask_classes):
            raise ValueError("footprint_required may only name classes in mask_classes")
        if not set(self.footprint_axis) <= set(self.mask_classes):
            raise ValueError("footprint_axis may only name classes in mask_classes")
        if any(not v > 0 for v in self.min_length_m.values()):
            raise ValueError("min_length_m must map classes to positive lengths in metres")
        released = self.continue_from is not None and is_onnx(self.continue_from)
        if released != (self.continue_step is not None):
            raise ValueError(
                "continue_step goes with a released model (.onnx) as continue_from, and only there"
            )
        if self.continue_step is not None and self.continue_step < 0:
            raise ValueError("continue_step must be >= 0")
        if self.average_with and self.continue_step is None:
            raise ValueError("average_with goes with a released model as continue_from")
        if not all(is_onnx(p) for p in self.average_with):
            raise ValueError("average_with names released models (.onnx)")
        return self


def is_onnx(path: Path) -> bool:
    """Whether `continue_from` names a released model rather than a checkpoint."""
    return path.suffix.lower() == ".onnx"


def load_train_config(path: Path) -> TrainConfig:
    """Read and validate a training configuration; relative paths resolve against its folder."""
    config = load_yaml_model(path, TrainConfig, "training configuration")
    base = path.parent
    config.resolve_paths(base)
    for d in config.datasets:
        d.images, d.labels = (base / d.images).resolve(), (base / d.labels).resolve()
        if d.names is not None:
            d.names = (base / d.names).resolve()
    for b in config.backgrounds:
        b.images = (base / b.images).resolve()
    return config
