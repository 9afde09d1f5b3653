"""Training samples: real labelled frames resampled to satellite GSD, real backgrounds with
generated objects, and augmentation. Numpy and Pillow only.

Each real frame is resampled once to every GSD level of the training range (area average plus a
Gaussian PSF, see `degrade`), then samples are random crops of a random level. Axis-aligned labels
stay valid under the augmentations used (90-degree rotations and flips); arbitrary orientations
come from the frames themselves and from generated objects. Photometric augmentation: per-channel
gain and offset, haze, Gaussian noise, JPEG re-encoding. Pixels outside the frame (crops larger
than a frame) are padded and masked out of the loss. Classes that a frame does not label (vehicles
on a pure background) are masked out of the heatmap loss for that sample.

Background warp (`background_warp`, a probability; 0 keeps the sample stream of earlier runs):
a crop that gets generated objects is first turned by any angle and scaled by 0.75-1.33 (from a
larger cut of its frame), and only then are the objects drawn on it. With 57 frames of 7 places
seen thousands of times each, the network can learn the backgrounds themselves; a warped crop is
a background it has not seen, which is what a new place is. The real objects of a warped crop
keep their pixels but leave the loss (their boxes' envelopes are not valid there): their
orientation is unknown, so their turned boxes would be guesses.

With a working GSD (`work_gsd_m`, the GSD the released model reads imagery at), a crop from a
level coarser than it is cut at the level's GSD (covering the same ground as a crop at the
working GSD), generated objects are drawn there, and the crop is then interpolated up to the
working GSD exactly as inference reads such imagery. The network thus always sees objects at
the working scale, sharp or blurred by the coarser sensor.

Generated class weights (`generated_weights`, whole numbers per generated class; all 1 keeps the
sample stream of earlier runs): each generated object or group is of a class drawn with these
weights. A container block or a train is one draw but many labels, a truck or a crane one, so
with equal weights trucks and cranes give a small share of the generated positives (in the
held-out scenes 42 large vehicles and 41 cranes against 136 rail cars and 227 containers).

Colour jitter (`colour_jitter`, a probability; 0 keeps the sample stream of earlier runs): a
crop is given another sensor's colours before the usual photometric steps (`degrade.colour_look`:
the bands mixed, per-band gains, saturation 0-1.5, where 0 is grey, and a gamma). The training
places are few and each has one palette (KIT's grey streets, Minsk's, NAIP's); a new place or
sensor brings another, and a network that scores generated objects by how their colours stand
out against a palette it knows does not carry over.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from sitewatch.core.models import GSD_TOLERANCE, ObjectClass, OrientedBox
from sitewatch.imagery.pixels import read_frame
from sitewatch.train.degrade import colour_look, resample_to_gsd
from sitewatch.train.labels import LabelledImage, box_size_px, polygon_angle_deg
from sitewatch.train.synth import PLAIN, GeneratorOptions, add_generated

CLASSES: tuple[ObjectClass, ...] = tuple(ObjectClass)
WARP_READ = 1.9  # a warped crop is read from a cut this many crop sizes wide: sqrt(2) / 0.75
WARP_LOG_SCALE = math.log(4 / 3)  # warped crops are scaled by 0.75-1.33
JITTER_SATURATION = (0.0, 1.5)  # colour jitter: saturation factors, 0 grey
NODATA_COVER = 0.99  # a resampled or turned pixel has data where this much of its source has
NODATA_TRIES = 10  # cuts drawn, at most, to find one at least half on data
GENERATED_CLASSES = (
    ObjectClass.LARGE_VEHICLE,
    ObjectClass.RAIL_CAR,
    ObjectClass.CRANE,
    ObjectClass.CONTAINER,
)


@dataclass(frozen=True)
class Target:
    """One object of a sample: class, pixel box, and whether its orientation is known."""

    object_class: ObjectClass
    box: OrientedBox
    oriented: bool


@dataclass(frozen=True)
class Sample:
    """An augmented crop with its targets, valid-pixel mask and labelled-class mask, the
    footprint masks (M, rows, cols) of the source's mask classes (M = 0: none), and where each
    footprint is unknown (`unknown`, same shape, > 0 there)."""

    image: npt.NDArray[np.uint8]
    targets: tuple[Target, ...]
    valid: npt.NDArray[np.bool_]
    labelled: npt.NDArray[np.bool_]
    masks: npt.NDArray[np.float32]
    unknown: npt.NDArray[np.float32]


def footprint_cells(
    samples: Sequence[Sample], stride: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Per output cell of each sample, the footprint coverage of each mask class (N, M, h, w)
    and whether that footprint is known there (no pixel of the cell is unknown)."""
    n, (m, rows, cols) = len(samples), samples[0].masks.shape
    shape = (n, m, rows // stride, stride, cols // stride, stride)
    masks = np.stack([s.masks for s in samples]).reshape(shape).mean((3, 5))
    unknown = np.stack([s.unknown for s in samples]).reshape(shape).max((3, 5))
    return masks.astype(np.float32), unknown <= 1e-6


@dataclass(frozen=True)
class _Level:
    image: npt.NDArray[np.uint8]
    targets: tuple[Target, ...]
    gsd_m: float
    labelled: frozenset[ObjectClass]
    valid: npt.NDArray[np.bool_] | None = None  # where the frame has data; None: everywhere


def targets_from_labels(image: LabelledImage, fx: float, fy: float) -> tuple[Target, ...]:
    """Labels scaled into a resampled frame's pixels (fx, fy: output per input pixel)."""
    out = []
    for b in image.boxes:
        pts = b.corners * [fx, fy]
        long_side, short_side = box_size_px(pts)
        c = pts.mean(axis=0)
        if b.oriented:
            angle = polygon_angle_deg(pts)
        else:
            w = float(pts[:, 0].max() - pts[:, 0].min())
            h = float(pts[:, 1].max() - pts[:, 1].min())
            angle = 0.0 if w >= h else 90.0
        box = OrientedBox(float(c[0]), float(c[1]), long_side, short_side, angle)
        out.append(Target(b.object_class, box, b.oriented))
    return tuple(out)


class SampleSource:
    """Draws training samples from labelled frames and background frames."""

    def __init__(
        self,
        labelled: Sequence[LabelledImage],
        backgrounds: Sequence[LabelledImage],
        gsd_levels_m: Sequence[float],
        crop_px: int,
        generated_probability: float = 0.6,
        seed: int = 0,
        work_gsd_m: float | None = None,
        mask_classes: Sequence[ObjectClass] = (),
        background_warp: float = 0.0,
        generated_weights: Mapping[ObjectClass, int] | None = None,
        colour_jitter: float = 0.0,
        generator: GeneratorOptions = PLAIN,
    ) -> None:
        """`mask_classes`: classes whose generated objects also give a footprint mask per
        sample (the extent masks of the network, train/model.py); `background_warp`: the
        probability that a crop is a warped background with generated objects;
        `generated_weights`: the weight of each generated class, 1 where not named;
        `colour_jitter`: the probability that a crop gets another sensor's colours (module
        docstring); `generator`: what generated crops get besides single objects (rows of
        parked large vehicles, moorings, ...; `synth.GeneratorOptions`)."""
        self.crop_px = crop_px
        self.generator = generator
        self.colour_jitter = colour_jitter
        self.background_warp = background_warp
        weights = dict(generated_weights or {})
        if any(w < 1 for w in weights.values()) or not set(weights) <= set(GENERATED_CLASSES):
            raise ValueError("generated_weights maps generated classes to whole numbers >= 1")
        # a class repeated w times is drawn w times as often (synth.add_generated draws uniformly)
        self.generated_classes = tuple(
            cls for cls in GENERATED_CLASSES for _ in range(weights.get(cls, 1))
        )
        self.mask_classes = tuple(mask_classes)
        self.work_gsd_m = work_gsd_m
        self.generated_probability = generated_probability
        self.rng = np.random.default_rng(seed)
        self.levels: list[_Level] = []
        drawn: list[float] = []  # each level's weight besides its size
        for item in list(labelled) + list(backgrounds):
            if item.gsd_m is None:
                raise ValueError(f"{item.image_path}: GSD unknown; estimate it first")
            pixels, has_data = read_frame(item.image_path, item.nodata)
            usable = [g for g in gsd_levels_m if g >= item.gsd_m * 0.8]
            for g in usable:
                img, fx, fy = resample_to_gsd(pixels, item.gsd_m, g)
                valid = None
                if not has_data.all():  # a level's pixel has data where all it is made of has
                    cover, _, _ = resample_to_gsd(has_data[None], item.gsd_m, g)
                    valid = cover[0] > NODATA_COVER
                self.levels.append(
                    _Level(
                        np.clip(img, 0, 255).astype(np.uint8),
                        targets_from_labels(item, fx, fy),
                        g,
                        item.labelled | frozenset(GENERATED_CLASSES),
                        valid,
                    )
                )
                drawn.append(item.weight)
        if not self.levels:
            raise ValueError("no training frames inside the GSD range")
        areas = np.array(
            [
                lv.image.shape[1] * lv.image.shape[2] if lv.valid is None else lv.valid.sum()
                for lv in self.levels
            ],
            float,
        )
        sizes = np.sqrt(areas) * np.array(drawn)
        self.weights = sizes / sizes.sum()

    def sample(self) -> Sample:
        """One augmented crop."""
        rng = self.rng
        level = self.levels[int(rng.choice(len(self.levels), p=self.weights))]
        work = self.work_gsd_m
        if work is None or level.gsd_m <= work * GSD_TOLERANCE:  # read native, as inference does
            crop, targets, valid, masks = self._cut(level, self.crop_px)
        else:
            crop, targets, valid, masks = self._cut(
                level, math.ceil(self.crop_px * work / level.gsd_m)
            )
            crop, targets, valid, masks = _to_work_gsd(
                crop, targets, valid, masks, level.gsd_m, work
            )
            c = self.crop_px
            crop, valid, masks = _fit(crop, c), _fit(valid, c), _fit(masks, c)
            targets = [t for t in targets if t.box.cx < c and t.box.cy < c]
        turned, targets, valid, masks = _geometric(crop, targets, valid, masks, rng)
        image = _photometric(turned, rng, self.colour_jitter)
        labelled = np.array([cls in level.labelled for cls in CLASSES])
        m = len(self.mask_classes)
        return Sample(image, tuple(targets), valid, labelled, masks[:m], masks[m:])

    def _cut(
        self, level: _Level, c: int
    ) -> tuple[
        npt.NDArray[np.float32], list[Target], npt.NDArray[np.bool_], npt.NDArray[np.float32]
    ]:
        """A c x c crop of a level, with its targets and generated objects drawn at its GSD,
        and the footprint masks of the mask classes followed by where each is unknown.

        A real label of a mask class (an axis-aligned box: no footprint drawn) makes its box's
        pixels unknown for that class, so the mask is not taught that a real truck is off any
        truck footprint. The two stacks travel together through resampling and turning."""
        rng = self.rng
        if self.background_warp > 0 and rng.random() < self.background_warp:
            return self._cut_warped(level, c)
        y0, x0 = self._corner(level, c)
        crop = np.zeros((3, c, c), dtype=np.float32)
        valid = np.zeros((c, c), dtype=bool)
        m = len(self.mask_classes)
        masks = np.zeros((2 * m, c, c), dtype=np.float32)
        for t in level.targets:
            if t.object_class in self.mask_classes and not t.oriented:
                ax0, ay0, ax1, ay1 = t.box.aabb()
                rs = slice(max(0, math.floor(ay0) - y0), max(0, math.ceil(ay1) - y0))
                cs = slice(max(0, math.floor(ax0) - x0), max(0, math.ceil(ax1) - x0))
                masks[m + self.mask_classes.index(t.object_class), rs, cs] = 1
        part = level.image[:, y0 : y0 + c, x0 : x0 + c]
        crop[:, : part.shape[1], : part.shape[2]] = part
        if level.valid is None:
            valid[: part.shape[1], : part.shape[2]] = True
            if part.shape[1] < c or part.shape[2] < c:  # pad with the mean colour
                mean = part.reshape(3, -1).mean(axis=1)
                crop[:, ~valid] = mean[:, None]
        else:  # no data and padding alike get the mean colour of the data
            valid[: part.shape[1], : part.shape[2]] = level.valid[y0 : y0 + c, x0 : x0 + c]
            crop[:, ~valid] = crop[:, valid].mean(axis=1)[:, None] if valid.any() else 0
        targets = [
            Target(t.object_class, _shift(t.box, -x0, -y0), t.oriented)
            for t in level.targets
            if x0 <= t.box.cx < x0 + part.shape[2] and y0 <= t.box.cy < y0 + part.shape[1]
        ]
        if rng.random() < self.generated_probability:
            targets += self._draw(crop, valid, level.gsd_m, [t.box for t in targets], masks)
            crop[:, ~valid] = crop[:, valid].mean(axis=1)[:, None] if valid.any() else 0
            targets = [t for t in targets if valid[_clip(t.box.cy, c), _clip(t.box.cx, c)]]
        return crop, targets, valid, masks

    def _corner(self, level: _Level, k: int) -> tuple[int, int]:
        """The top-left corner (row, col) of a k x k cut of a level; where the level has no
        data in places, a cut at least half on data (up to NODATA_TRIES draws)."""
        _, rows, cols = level.image.shape
        for _ in range(NODATA_TRIES):
            y0 = int(self.rng.integers(0, max(1, rows - k + 1)))
            x0 = int(self.rng.integers(0, max(1, cols - k + 1)))
            if level.valid is None or level.valid[y0 : y0 + k, x0 : x0 + k].mean() >= 0.5:
                break
        return y0, x0

    def _draw(
        self,
        crop: npt.NDArray[np.float32],
        valid: npt.NDArray[np.bool_],
        gsd_m: float,
        occupied: list[OrientedBox],
        masks: npt.NDArray[np.float32],
    ) -> list[Target]:
        """Generated objects drawn on a crop where nothing is yet; their targets."""
        m = len(self.mask_classes)
        count = int(self.rng.integers(1, 5))
        drawn = add_generated(
            crop,
            gsd_m,
            self.rng,
            self.generated_classes,
            occupied,
            count,
            dict(zip(self.mask_classes, masks[:m], strict=True)),
            self.generator,
        )
        masks *= valid
        return [Target(cls, box, True) for cls, box in drawn]

    def _cut_warped(
        self, level: _Level, c: int
    ) -> tuple[
        npt.NDArray[np.float32], list[Target], npt.NDArray[np.bool_], npt.NDArray[np.float32]
    ]:
        """A c x c crop turned by a random angle and scaled by 0.75-1.33 from a larger cut of
        the level, its real objects out of the loss, and generated objects drawn on it."""
        rng = self.rng
        k = math.ceil(c * WARP_READ)
        y0, x0 = self._corner(level, k)
        part = level.image[:, y0 : y0 + k, x0 : x0 + k].astype(np.float32)
        theta = float(rng.uniform(0.0, 360.0))
        scale = math.exp(float(rng.uniform(-WARP_LOG_SCALE, WARP_LOG_SCALE)))
        crop, valid, to_crop = warp_crop(part, theta, scale, c)
        if level.valid is not None:
            has = level.valid[y0 : y0 + k, x0 : x0 + k].astype(np.float32)
            cover, _, _ = warp_crop(np.repeat(has[None], 3, axis=0), theta, scale, c)
            valid &= cover[0] > NODATA_COVER
        unknown = np.zeros((c, c), dtype=bool)
        occupied = []
        for t in level.targets:  # real objects: out of the loss where they may now lie
            x, y = to_crop(np.asarray(t.box.corners(), dtype=np.float64) - (x0, y0)).T
            c0, r0 = math.floor(x.min()), math.floor(y.min())
            c1, r1 = math.ceil(x.max()) + 1, math.ceil(y.max()) + 1
            if r1 <= 0 or c1 <= 0 or r0 >= c or c0 >= c:
                continue
            unknown[max(0, r0) : r1, max(0, c0) : c1] = True
            w, h = float(c1 - c0), float(r1 - r0)
            angle = 0.0 if w >= h else 90.0
            occupied.append(OrientedBox((c0 + c1) / 2, (r0 + r1) / 2, max(w, h), min(w, h), angle))
        if valid.any():
            crop[:, ~valid] = crop[:, valid].mean(axis=1)[:, None]
        valid &= ~unknown
        masks = np.zeros((2 * len(self.mask_classes), c, c), dtype=np.float32)
        targets = self._draw(crop, valid, level.gsd_m, occupied, masks)
        targets = [t for t in targets if valid[_clip(t.box.cy, c), _clip(t.box.cx, c)]]
        return crop, targets, valid, masks


def warp_crop(
    part: npt.NDArray[np.float32], angle_deg: float, scale: float, c: int
) -> tuple[
    npt.NDArray[np.float32],
    npt.NDArray[np.bool_],
    Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
]:
    """A c x c crop of `part` (3, k, k) about its centre, turned by `angle_deg` and magnified
    by `scale` (bilinear); where it shows `part` (valid); and the map of (x, y) points of `part`
    (an (n, 2) array) to the crop's."""
    theta = math.radians(angle_deg)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    matrix = rot / scale  # output (row, col) -> source (row, col), about the two centres
    offset = np.array(part.shape[1:], dtype=np.float64) / 2.0 - matrix @ np.array([c / 2, c / 2])
    crop = np.stack(
        [ndimage.affine_transform(ch, matrix, offset, (c, c), order=1, cval=0.0) for ch in part]
    ).astype(np.float32)
    inside = np.ones(part.shape[1:], dtype=np.float32)
    valid = ndimage.affine_transform(inside, matrix, offset, (c, c), order=0, cval=0.0) > 0.5
    inverse = np.linalg.inv(matrix)

    def to_crop(points_xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rc = (inverse @ (points_xy[:, ::-1] - offset).T).T
        out: npt.NDArray[np.float64] = rc[:, ::-1]
        return out

    return crop, valid, to_crop


def _fit(array: npt.NDArray[Any], c: int) -> npt.NDArray[Any]:
    """The top-left c x c of an image or mask, zero-padded where it falls short."""
    out = np.zeros((*array.shape[:-2], c, c), dtype=array.dtype)
    part = array[..., :c, :c]
    out[..., : part.shape[-2], : part.shape[-1]] = part
    return out


def _to_work_gsd(
    crop: npt.NDArray[np.float32],
    targets: list[Target],
    valid: npt.NDArray[np.bool_],
    masks: npt.NDArray[np.float32],
    gsd_m: float,
    work_gsd_m: float,
) -> tuple[npt.NDArray[np.float32], list[Target], npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """A crop at `gsd_m` interpolated (linear, as on read) up to `work_gsd_m`, with its targets
    and masks."""
    pixels, fx, fy = resample_to_gsd(crop, gsd_m, work_gsd_m, psf_px=0.0)
    masks = resample_to_gsd(masks, gsd_m, work_gsd_m, psf_px=0.0)[0]
    rows, cols = pixels.shape[1:]
    ri = np.minimum((np.arange(rows) / fy).astype(int), valid.shape[0] - 1)
    ci = np.minimum((np.arange(cols) / fx).astype(int), valid.shape[1] - 1)
    moved = [Target(t.object_class, t.box.scaled(fx, fy), t.oriented) for t in targets]
    return pixels, moved, valid[np.ix_(ri, ci)], masks


def _clip(v: float, n: int) -> int:
    return min(n - 1, max(0, int(v)))


def _shift(box: OrientedBox, dx: float, dy: float) -> OrientedBox:
    return OrientedBox(box.cx + dx, box.cy + dy, box.length_px, box.width_px, box.angle_deg)


def _geometric(
    image: npt.NDArray[np.float32],
    targets: list[Target],
    valid: npt.NDArray[np.bool_],
    masks: npt.NDArray[np.float32],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], list[Target], npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    n = image.shape[1]
    k = int(rng.integers(4))
    flip = bool(rng.random() < 0.5)
    out = []
    for t in targets:
        x, y, a = t.box.cx, t.box.cy, t.box.angle_deg
        for _ in range(k):  # np.rot90 turns counter-clockwise: (x, y) -> (y, n - x), a -> a - 90
            x, y, a = y, n - x, a - 90
        if flip:
            x, a = n - x, 180 - a
        box = OrientedBox(x, y, t.box.length_px, t.box.width_px, a % 180)
        out.append(Target(t.object_class, box, t.oriented))
    image = np.rot90(image, k, axes=(1, 2))
    valid = np.rot90(valid, k)
    masks = np.rot90(masks, k, axes=(1, 2))
    if flip:
        image = image[:, :, ::-1]
        valid = valid[:, ::-1]
        masks = masks[:, :, ::-1]
    return (
        np.ascontiguousarray(image),
        out,
        np.ascontiguousarray(valid),
        np.ascontiguousarray(masks),
    )


def _photometric(
    image: npt.NDArray[np.float32], rng: np.random.Generator, colour_jitter: float = 0.0
) -> npt.NDArray[np.uint8]:
    if colour_jitter > 0 and rng.random() < colour_jitter:
        image = (colour_look(image / 255.0, rng, JITTER_SATURATION) * 255).astype(np.float32)
    gain = rng.uniform(0.75, 1.25) * rng.uniform(0.9, 1.1, size=(3, 1, 1))
    image = (image * gain + rng.uniform(-20, 20)).astype(np.float32)
    if rng.random() < 0.25:
        alpha = rng.uniform(0.05, 0.35)
        image = (image * (1 - alpha) + alpha * rng.uniform(180, 240)).astype(np.float32)
    if rng.random() < 0.7:
        image = (image + rng.normal(0, rng.uniform(0.5, 4.0), size=image.shape)).astype(np.float32)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        out = _jpeg(out, int(rng.integers(40, 95)))
    return out


def _jpeg(image: npt.NDArray[np.uint8], quality: int) -> npt.NDArray[np.uint8]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image.transpose(1, 2, 0)).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).transpose(2, 0, 1).copy()


def angle_vector(angle_deg: float) -> tuple[float, float]:
    """(sin 2a, cos 2a): the orientation of an undirected axis, continuous across 0/180."""
    r = math.radians(2 * angle_deg)
    return math.sin(r), math.cos(r)
