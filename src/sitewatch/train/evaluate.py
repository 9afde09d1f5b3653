"""Detector evaluation: COCO-style AP per class, counting error per image, precision and recall at
the operating thresholds, PR curves. Numpy and shapely only (the default install can evaluate).

Matching: predictions sorted by score are matched greedily to the unmatched ground truth of the
same class and image with the highest IoU above the threshold. IoU is the rotated-box IoU when the
ground truth is oriented; when the ground truth is axis-aligned (orientation unknown), it is the
IoU of the prediction's axis-aligned envelope with the ground-truth box. AP is the area under the
101-point interpolated precision-recall curve (COCO); AP50:95 averages IoU 0.50, 0.55, ..., 0.95.

Uncertainty: AP50 comes with a 90% bootstrap interval over *images* (the unit that is sampled: a
frame's objects share its place, light and sensor), `AP50_interval`. Matching is per image, so a
resample only reweights each image's already-matched detections; 1,000 resamples with a fixed
seed, so the interval is reproducible. It says how far a figure could move on another draw of
images like these. Two detectors on the *same* images are compared with `ap_difference_interval`:
each resample draws the same images for both, so what both get right or wrong cancels out and
the interval of the difference is usually narrower than either model's own (a test shows it on a case
whose answer is known).

Evaluation images are the held-out frames resampled to the asked GSD (area average and a 0.5 px
Gaussian PSF, no noise: deterministic). Each image is then read for the model as a scene of that
GSD would be (`ModelInfo.read_scale`: linear interpolation up to the model's working GSD, area
average down to its range), and the detections are mapped back to the image's pixels. Generated
evaluation scenes add generated objects, with a fixed seed, to held-out real frames and
backgrounds that training never saw.

A generated scene keeps the real labelled objects of its frame (otherwise a detection of a real
truck would count as a false alarm), so its large-vehicle row mixes real and generated vehicles.
`ignore_real` scores the generated objects alone, COCO-style: a real object of a generated class
is not counted, and a detection of its class at IoU >= 0.5 with it is dropped. `sitewatch
eval-detector` reports both, from the same detections (settings ending in REAL_IGNORED).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import Detection, ObjectClass, OrientedBox
from sitewatch.core.ports import Detector
from sitewatch.detect.merge import rotated_iou
from sitewatch.detect.run import DetectOptions, detect_array
from sitewatch.imagery.pixels import read_image
from sitewatch.train.dataset import GENERATED_CLASSES, Target, targets_from_labels
from sitewatch.train.degrade import resample_to_gsd
from sitewatch.train.labels import LabelledImage
from sitewatch.train.synth import add_generated

IOU_THRESHOLDS = np.round(np.arange(0.5, 0.96, 0.05), 2)
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
INTERVAL = 0.9
# suffix of the evaluation settings scored with `ignore_real` (eval.md, the model card)
REAL_IGNORED = "real ignored"
HELDOUT_SEED = 1234  # the first draw of generated objects on the held-out split


@dataclass(frozen=True)
class EvalImage:
    """One evaluation image with its ground truth."""

    name: str
    image: npt.NDArray[np.uint8]
    targets: tuple[Target, ...]
    labelled: frozenset[ObjectClass]
    gsd_m: float
    generated: bool = False
    drawn: int = 0  # how many of `targets`, at their end, are generated objects


def real_eval_set(images: Sequence[LabelledImage], gsd_m: float) -> list[EvalImage]:
    """Held-out labelled frames resampled to `gsd_m`."""
    out = []
    for item in images:
        assert item.gsd_m is not None
        pixels, fx, fy = resample_to_gsd(read_image(item.image_path), item.gsd_m, gsd_m)
        out.append(
            EvalImage(
                item.image_path.stem,
                np.clip(pixels, 0, 255).astype(np.uint8),
                targets_from_labels(item, fx, fy),
                item.labelled,
                gsd_m,
            )
        )
    return out


def generated_eval_set(
    images: Sequence[LabelledImage], gsd_m: float, seed: int = HELDOUT_SEED, groups: int = 6
) -> list[EvalImage]:
    """Generated objects drawn (seeded) onto held-out real frames resampled to `gsd_m`.

    Frames finer than `gsd_m` are resampled down; coarser backgrounds are used at their own GSD.
    Vehicles on unlabelled backgrounds are not labelled, so only generated classes count there.
    """
    rng = np.random.default_rng(seed)
    out = []
    for item in images:
        assert item.gsd_m is not None
        target = max(gsd_m, item.gsd_m)
        pixels, fx, fy = resample_to_gsd(read_image(item.image_path), item.gsd_m, target)
        real = list(targets_from_labels(item, fx, fy))
        occupied = [t.box for t in real]
        drawn = add_generated(pixels, target, rng, GENERATED_CLASSES, occupied, groups)
        targets = real + [Target(c, b, True) for c, b in drawn]
        labelled = frozenset(GENERATED_CLASSES) - (
            frozenset() if item.labelled else {ObjectClass.LARGE_VEHICLE}
        )
        out.append(
            EvalImage(
                f"{item.image_path.stem}@{target:g}m",
                np.clip(pixels, 0, 255).astype(np.uint8),
                tuple(targets),
                labelled | item.labelled,
                target,
                True,
                len(drawn),
            )
        )
    return out


def detect_image(item: EvalImage, detector: Detector, options: DetectOptions) -> list[Detection]:
    """Detections of an evaluation image read at the model's read scale, in the image's pixels."""
    scale = detector.info.read_scale(item.gsd_m)
    pixel_m = item.gsd_m * scale
    if scale == 1.0:
        return detect_array(item.image, detector, options, pixel_m=pixel_m).detections
    pixels, fx, fy = resample_to_gsd(item.image, item.gsd_m, pixel_m, psf_px=0.0)
    read = np.clip(pixels, 0, 255).astype(np.uint8)
    found = detect_array(read, detector, options, pixel_m=pixel_m).detections
    return [replace(d, box=d.box.scaled(1 / fx, 1 / fy)) for d in found]


def iou(pred: OrientedBox, gt: Target) -> float:
    """IoU of a prediction with a ground-truth target (envelope IoU for axis-aligned truth)."""
    if gt.oriented:
        return rotated_iou(pred, gt.box)
    px0, py0, px1, py1 = pred.aabb()
    gx0, gy0, gx1, gy1 = gt.box.aabb()
    iw, ih = max(0.0, min(px1, gx1) - max(px0, gx0)), max(0.0, min(py1, gy1) - max(py0, gy0))
    inter = iw * ih
    union = (px1 - px0) * (py1 - py0) + (gx1 - gx0) * (gy1 - gy0) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(preds: Sequence[Detection], gts: Sequence[Target]) -> npt.NDArray[np.float64]:
    """(n_pred, n_gt) IoU; exact polygons only where envelopes overlap."""
    m = np.zeros((len(preds), len(gts)))
    if not preds or not gts:
        return m
    pa = np.array([d.box.aabb() for d in preds])
    ga = np.array([t.box.aabb() for t in gts])
    iw = np.clip(
        np.minimum(pa[:, None, 2], ga[None, :, 2]) - np.maximum(pa[:, None, 0], ga[None, :, 0]),
        0,
        None,
    )
    ih = np.clip(
        np.minimum(pa[:, None, 3], ga[None, :, 3]) - np.maximum(pa[:, None, 1], ga[None, :, 1]),
        0,
        None,
    )
    inter = iw * ih
    area_p = (pa[:, 2] - pa[:, 0]) * (pa[:, 3] - pa[:, 1])
    area_g = (ga[:, 2] - ga[:, 0]) * (ga[:, 3] - ga[:, 1])
    m = inter / np.maximum(area_p[:, None] + area_g[None, :] - inter, 1e-9)
    for j, gt in enumerate(gts):
        if not gt.oriented:
            continue
        for i in np.nonzero(inter[:, j] > 0)[0].tolist():
            m[i, j] = iou(preds[i].box, gt)
    result: npt.NDArray[np.float64] = m
    return result


def _match(
    preds: Sequence[tuple[int, Detection]],
    ious: dict[int, npt.NDArray[np.float64]],
    rank: Sequence[int],
    thr: float,
) -> npt.NDArray[np.bool_]:
    """True positives of score-sorted predictions at IoU >= thr.

    `ious[img]` holds the IoU of that image's predictions (in their per-image order `rank`) with
    its ground truth.
    """
    used = {i: np.zeros(m.shape[1], dtype=bool) for i, m in ious.items()}
    tp = np.zeros(len(preds), dtype=bool)
    for k, (img, _) in enumerate(preds):
        m = ious.get(img)
        if m is None or m.shape[1] == 0:
            continue
        row = np.where(used[img], -1.0, m[rank[k]])
        j = int(row.argmax())
        if row[j] >= thr:
            used[img][j] = True
            tp[k] = True
    return tp


def _ap(
    tp: npt.NDArray[np.bool_], n_gt: float, weight: npt.NDArray[np.float64] | None = None
) -> tuple[float, npt.NDArray[Any], npt.NDArray[Any]]:
    """Interpolated AP of score-sorted predictions; `weight` counts each prediction that many
    times (a bootstrap resample), and `n_gt` is then the resample's weighted object count."""
    if n_gt == 0:
        return float("nan"), np.array([]), np.array([])
    w = np.ones(len(tp)) if weight is None else weight
    keep = w > 0
    ctp = np.cumsum(np.where(tp, w, 0.0)[keep])
    recall = ctp / n_gt
    precision = ctp / np.cumsum(w[keep])
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(ctp) else precision
    points = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, points, side="left")
    sampled = np.array([envelope[i] if i < len(envelope) else 0.0 for i in idx])
    return float(sampled.mean()), recall, precision


@dataclass(frozen=True)
class Matches:
    """A class's IoU-0.5 matches on an evaluation set, as the bootstrap needs them: `tp` of the
    score-sorted predictions, `image_of` the index of each one's image in the evaluation set,
    and `gts_per_image` the class's object count in every image of the set (0 where there is
    none or the class is not labelled; an image without objects still adds its false alarms)."""

    tp: npt.NDArray[np.bool_]
    image_of: npt.NDArray[np.int64]
    gts_per_image: npt.NDArray[np.int64]

    def ap(self, times: npt.NDArray[np.float64]) -> float:
        """AP50 with each image counted `times[i]` times (NaN when no object is drawn)."""
        n_gt = float(times @ self.gts_per_image)
        return _ap(self.tp, n_gt, times[self.image_of])[0] if n_gt > 0 else float("nan")


def _bootstrap(
    n_images: int, stat: Callable[[npt.NDArray[np.float64]], float]
) -> tuple[float, float]:
    """The central INTERVAL of `stat` over BOOTSTRAP_RESAMPLES resamples of the images (always
    the same resamples: BOOTSTRAP_SEED)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    values = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        times = np.bincount(rng.integers(0, n_images, n_images), minlength=n_images)
        v = stat(times.astype(np.float64))
        if not np.isnan(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    tail = (1 - INTERVAL) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return float(lo), float(hi)


def ap_interval(m: Matches) -> tuple[float, float]:
    """The 90% bootstrap interval of AP50 over the images."""
    return _bootstrap(len(m.gts_per_image), m.ap)


def ap_difference_interval(pairs: Sequence[tuple[Matches, Matches]]) -> tuple[float, float]:
    """The 90% bootstrap interval of the mean over `pairs` of AP50(a) - AP50(b): two detectors'
    matches on the *same* evaluation set, one pair per class (one pair: that class's
    difference). Each resample draws the same images for both detectors and every class, so
    what both get right or wrong cancels out."""
    sizes = {len(m.gts_per_image) for pair in pairs for m in pair}
    same = all(np.array_equal(a.gts_per_image, b.gts_per_image) for a, b in pairs)
    if len(sizes) != 1 or not same:
        raise ValueError("paired AP needs both detectors' matches on the same images")
    return _bootstrap(sizes.pop(), lambda t: float(np.mean([a.ap(t) - b.ap(t) for a, b in pairs])))


def paired_intervals(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Per class of two `evaluate` reports on the same images, the 90% paired bootstrap interval
    of AP50(a) - AP50(b)."""
    return {
        cls: ap_difference_interval([(r["matches"], b[cls]["matches"])])
        for cls, r in a.items()
        if cls in b
    }


def evaluate(
    detector: Detector,
    images: Sequence[EvalImage],
    options: DetectOptions,
    operating: dict[ObjectClass, float],
) -> dict[str, Any]:
    """AP50, AP50:95, counting error and P/R at `operating` thresholds, per class."""
    return score_detections(images, detect_all(images, detector, options), operating)


def at_threshold(
    detections: Sequence[Detection], operating: dict[ObjectClass, float]
) -> list[Detection]:
    """The detections at or above their class's operating threshold (0.3 where none is given)."""
    return [d for d in detections if d.score >= operating.get(d.object_class, 0.3)]


def detect_all(
    images: Sequence[EvalImage], detector: Detector, options: DetectOptions
) -> list[list[Detection]]:
    """Every evaluation image's detections (`detect_image`), in order."""
    return [detect_image(item, detector, options) for item in images]


def ignore_real(
    images: Sequence[EvalImage], detections: Sequence[Sequence[Detection]]
) -> tuple[list[EvalImage], list[list[Detection]], frozenset[ObjectClass]]:
    """Generated scenes with their real objects of the generated classes ignored, COCO-style.

    The held-out frames keep their real, labelled trucks and buses, so a generated scene's
    large-vehicle row mixes them with the drawn ones. Here such a real object is not counted,
    and a detection of its class at IoU >= 0.5 with it is dropped (neither a hit nor a false
    alarm). Returns the images, the detections and the classes that lost real objects: only
    those classes' rows measure generated objects alone."""
    out_images, out_detections, touched = [], [], set()
    for item, found in zip(images, detections, strict=True):
        n_real = len(item.targets) - item.drawn
        real = [t for t in item.targets[:n_real] if t.object_class in GENERATED_CLASSES]
        if not item.generated or not real:
            out_images.append(item)
            out_detections.append(list(found))
            continue
        drop: set[int] = set()
        for cls in {t.object_class for t in real}:
            touched.add(cls)
            gts = [t for t in real if t.object_class is cls]
            mine = [d for d in found if d.object_class is cls]
            m = iou_matrix(mine, gts)
            drop |= {id(d) for d, row in zip(mine, m, strict=True) if row.max() >= 0.5}
        kept = tuple(
            t for t in item.targets[:n_real] if t.object_class not in GENERATED_CLASSES
        ) + tuple(item.targets[n_real:])
        out_images.append(replace(item, targets=kept))
        out_detections.append([d for d in found if id(d) not in drop])
    return out_images, out_detections, frozenset(touched)


def score_detections(
    images: Sequence[EvalImage],
    detections: Sequence[Sequence[Detection]],
    operating: dict[ObjectClass, float],
) -> dict[str, Any]:
    """`evaluate` on detections made already (`detect_all`), one list per image."""
    per_class_preds: dict[ObjectClass, list[tuple[int, Detection]]] = {c: [] for c in ObjectClass}
    per_class_gts: dict[ObjectClass, dict[int, list[Target]]] = {c: {} for c in ObjectClass}
    counts: dict[ObjectClass, list[tuple[int, int]]] = {c: [] for c in ObjectClass}
    for i, (item, image_detections) in enumerate(zip(images, detections, strict=True)):
        for cls in item.labelled:
            gts = [t for t in item.targets if t.object_class is cls]
            per_class_gts[cls][i] = gts
            found = [d for d in image_detections if d.object_class is cls]
            per_class_preds[cls].extend((i, d) for d in found)
            n_pred = len(at_threshold(found, operating))
            counts[cls].append((len(gts), n_pred))
    report: dict[str, Any] = {}
    for cls in ObjectClass:
        n_gt = sum(len(g) for g in per_class_gts[cls].values())
        if n_gt == 0:
            continue
        preds = sorted(per_class_preds[cls], key=lambda p: -p[1].score)
        by_image: dict[int, list[Detection]] = {}
        rank = []
        for img, det in preds:
            rank.append(len(by_image.setdefault(img, [])))
            by_image[img].append(det)
        ious = {
            img: iou_matrix(by_image.get(img, []), gts) for img, gts in per_class_gts[cls].items()
        }
        aps, curve = [], None
        for thr in IOU_THRESHOLDS:
            tp = _match(preds, ious, rank, float(thr))
            ap, recall, precision = _ap(tp, n_gt)
            aps.append(ap)
            if thr == 0.5:
                tp_50 = tp
                curve = (recall, precision)
                scores = np.array([p[1].score for p in preds])
                at_op = scores >= operating.get(cls, 0.3)
                tp_op = int(tp[at_op].sum())
                n_op = int(at_op.sum())
                ctp = np.cumsum(tp)
                f1 = 2 * ctp / (np.arange(1, len(tp) + 1) + n_gt) if len(tp) else np.zeros(0)
                best_f1_threshold = float(scores[int(f1.argmax())]) if len(tp) else 1.0
        pairs = np.array(counts[cls], dtype=float)
        with_gt = pairs[pairs[:, 0] > 0]
        matches = Matches(
            tp_50,
            np.array([img for img, _ in preds], dtype=np.int64),
            np.array([len(per_class_gts[cls].get(i, ())) for i in range(len(images))]),
        )
        report[cls.value] = {
            "images": len(per_class_gts[cls]),
            "objects": n_gt,
            "AP50": aps[0],
            "AP50_interval": ap_interval(matches),
            "AP50_95": float(np.mean(aps)),
            "operating_threshold": operating.get(cls, 0.3),
            "precision": tp_op / n_op if n_op else 0.0,
            "recall": tp_op / n_gt,
            "count_MAE": float(np.abs(pairs[:, 1] - pairs[:, 0]).mean()),
            "count_MAPE": float((np.abs(with_gt[:, 1] - with_gt[:, 0]) / with_gt[:, 0]).mean())
            if len(with_gt)
            else None,
            "best_f1_threshold": best_f1_threshold,
            "curve": curve,
            "scored": (scores, tp_50),
            "matches": matches,
        }
    return report


def heldout_reports(
    detector: Detector,
    real: Sequence[LabelledImage],
    backgrounds: Sequence[LabelledImage],
    gsds: Sequence[float],
    operating: dict[ObjectClass, float],
    generated: bool = True,
    draws: int = 1,
) -> dict[str, dict[str, Any]]:
    """`sitewatch eval-detector`'s reports on held-out frames `real` (and generated scenes on
    them and on `backgrounds`), per GSD: "real G m", "generated G m" and, for the generated
    classes that have real objects in those frames, "generated G m, real ignored".

    `draws` draws of generated objects (seeds 1234, 1235, ...) are pooled into one set of
    generated scenes: one draw holds about 40 large vehicles and 40 cranes per GSD, and over 20
    draws the default's cranes scored about 0.1 lower than on the first draw alone
    (`benchmarks/results/detector-heldout-draws/`). The frames stay the same, so more draws
    narrow the intervals for the draw of objects, not for the draw of places."""
    options = DetectOptions(overlap_px=64)
    reports: dict[str, dict[str, Any]] = {}
    frames = list(real) + list(backgrounds)
    for g in gsds:
        reports[f"real {g:g} m"] = evaluate(detector, real_eval_set(real, g), options, operating)
        if not generated:
            continue
        scenes = [s for d in range(draws) for s in generated_eval_set(frames, g, HELDOUT_SEED + d)]
        found = detect_all(scenes, detector, options)
        reports[f"generated {g:g} m"] = score_detections(scenes, found, operating)
        alone, kept, classes = ignore_real(scenes, found)
        if classes:
            rep = score_detections(alone, kept, operating)
            reports[f"generated {g:g} m, {REAL_IGNORED}"] = {
                c.value: rep[c.value] for c in sorted(classes) if c.value in rep
            }
    return reports


def plot_pr_curves(reports: dict[str, dict[str, Any]], out: Path) -> Path:
    """One panel per setting with the IoU-0.5 precision-recall curve of every class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10")
    colours = {c.value: cmap(i) for i, c in enumerate(ObjectClass)}
    n = len(reports)
    cols = 2 if n > 1 else 1
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.2 * rows), squeeze=False)
    for ax, (setting, report) in zip(axes.flat, reports.items(), strict=False):
        drawn = False
        for cls, r in report.items():
            recall, precision = r["curve"]
            if len(recall):
                ax.plot(recall, precision, color=colours[cls], label=f"{cls} AP50 {r['AP50']:.2f}")
                drawn = True
        ax.set_title(setting)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if drawn:  # a setting whose classes have no prediction at all has no curve
            ax.legend(fontsize=8, loc="lower left")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Precision-recall at IoU 0.5 (held-out split; 'generated' = generated objects)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
