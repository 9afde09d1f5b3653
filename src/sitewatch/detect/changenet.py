"""The ONNX adapter of learned change models (the second user of onnxruntime after detect.onnx).

A change model takes two float32 images of 0-255 RGB, `before` and `after` (N, 3, H, W, with H
and W multiples of 16), and returns the change probability `change` (N, 1, H, W). Its metadata
(`sitewatch-change`, JSON) gives its id, the GSD range it accepts, the working GSD it reads
imagery at, and its decision threshold. `OnnxChangeModel` checks the inputs and outputs when it
loads (a dry run names the shapes it got), resamples a pair to the working GSD, runs it in
overlapping tiles whose overlaps are averaged, and returns the probability on the input grid.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from sitewatch.core.models import GSD_TOLERANCE
from sitewatch.detect.onnx import file_sha256, open_session
from sitewatch.errors import InputError, ModelError

METADATA_KEY = "sitewatch-change"
MULTIPLE = 16
TILE_PX = 512
OVERLAP_PX = 64
F32 = npt.NDArray[np.float32]


class OnnxChangeModel:
    """One learned change model (see module docstring)."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        if not path.is_file():
            raise ModelError(f"{path}: no such change model file")
        self.session = open_session(path, threads)
        self.path = path
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelError(f"{path}: no {METADATA_KEY} metadata; not a sitewatch change model")
        try:
            m: dict[str, Any] = json.loads(meta[METADATA_KEY])
            self.model_id = str(m["model_id"])
            lo, hi = (float(v) for v in m["gsd_range_m"])
            self.gsd_range_m = (lo, hi)
            self.work_gsd_m = float(m["work_gsd_m"])
            self.threshold = float(m["threshold"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: bad {METADATA_KEY} metadata ({exc})") from exc
        self.sha256 = file_sha256(path)
        self._check()

    def _check(self) -> None:
        inputs = self.session.get_inputs()
        names = [i.name for i in inputs]
        shapes = [tuple(i.shape) for i in inputs]
        if names != ["before", "after"] or any(len(s) != 4 or s[1] not in (3, "3") for s in shapes):
            raise ModelError(
                f"{self.path}: expected inputs before, after of shape (N, 3, H, W), got "
                f"{dict(zip(names, shapes, strict=True))}"
            )
        out = self._run(np.zeros((1, 3, 32, 32), np.float32), np.zeros((1, 3, 32, 32), np.float32))
        if out.shape != (1, 1, 32, 32):
            raise ModelError(
                f"{self.path}: output {tuple(out.shape)} for inputs (1, 3, 32, 32): "
                "expected (1, 1, 32, 32)"
            )

    def accepts(self, gsd_m: float) -> bool:
        """Whether imagery of this GSD lies in the model's range (with the shared tolerance)."""
        lo, hi = self.gsd_range_m
        return lo / GSD_TOLERANCE <= gsd_m <= hi * GSD_TOLERANCE

    def params(self) -> dict[str, Any]:
        """What is recorded with each change result made by this model."""
        return {
            "method": "learned",
            "model_id": self.model_id,
            "model_sha256": self.sha256,
            "work_gsd_m": self.work_gsd_m,
            "threshold": self.threshold,
        }

    def _run(self, before: F32, after: F32) -> F32:
        try:
            out = self.session.run(None, {"before": before, "after": after})[0]
        except Exception as exc:
            raise ModelError(f"{self.path}: inference failed on {before.shape} ({exc})") from exc
        return np.asarray(out, dtype=np.float32)

    def probability(
        self, before: npt.NDArray[Any], after: npt.NDArray[Any], gsd_m: float, force: bool = False
    ) -> F32:
        """Change probability (H, W) of two (3, H, W) 8-bit-range images on one grid."""
        if before.shape != after.shape or before.ndim != 3 or before.shape[0] != 3:
            raise InputError(
                f"change pair must be two (3, H, W) images, got {before.shape}, {after.shape}"
            )
        if not force and not self.accepts(gsd_m):
            lo, hi = self.gsd_range_m
            raise InputError(f"GSD {gsd_m:g} m is outside the change model's range {lo:g}-{hi:g} m")
        h, w = before.shape[1:]
        zoom = gsd_m / self.work_gsd_m
        a, b = before.astype(np.float32), after.astype(np.float32)
        if abs(zoom - 1) > 0.02:
            a = ndimage.zoom(a, (1, zoom, zoom), order=1, prefilter=False)
            b = ndimage.zoom(b, (1, zoom, zoom), order=1, prefilter=False)
        prob = self._tiled(a, b)
        if prob.shape != (h, w):
            prob = ndimage.zoom(
                prob, (h / prob.shape[0], w / prob.shape[1]), order=1, prefilter=False
            )[:h, :w]
            prob = np.pad(prob, ((0, h - prob.shape[0]), (0, w - prob.shape[1])), mode="edge")
        return prob.astype(np.float32)

    def _tiled(self, a: F32, b: F32) -> F32:
        h, w = a.shape[1:]
        ph, pw = -h % MULTIPLE, -w % MULTIPLE
        if ph or pw:
            pad = ((0, 0), (0, ph), (0, pw))
            a, b = np.pad(a, pad, mode="edge"), np.pad(b, pad, mode="edge")
        hp, wp = a.shape[1:]
        total = np.zeros((hp, wp), np.float32)
        weight = np.zeros((hp, wp), np.float32)
        step = TILE_PX - OVERLAP_PX
        ys = _starts(hp, TILE_PX, step)
        xs = _starts(wp, TILE_PX, step)
        for y in ys:
            for x in xs:
                th, tw = min(TILE_PX, hp - y), min(TILE_PX, wp - x)
                p = self._run(
                    a[None, :, y : y + th, x : x + tw].copy(),
                    b[None, :, y : y + th, x : x + tw].copy(),
                )[0, 0]
                total[y : y + th, x : x + tw] += p
                weight[y : y + th, x : x + tw] += 1
        return (total / weight)[:h, :w]


def _starts(n: int, tile: int, step: int) -> list[int]:
    if n <= tile:
        return [0]
    starts = list(range(0, n - tile, step))
    starts.append(n - tile)
    return starts
