"""The ONNX runtime adapter: the only user of onnxruntime.

`OnnxDetector` loads a model with its spec, checks at load time that its input and outputs match
the declared layout (a dry run on a blank tile settles symbolic dimensions), and runs batches of
8-bit RGB tiles. onnxruntime errors become ModelError here and never leave this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import Detection
from sitewatch.detect.calibration import read_calibration
from sitewatch.detect.decode import decode_sitewatch, decode_yolo
from sitewatch.detect.merge import suppress_duplicates
from sitewatch.detect.spec import METADATA_KEY, ModelSpec, spec_from_metadata, spec_from_yaml
from sitewatch.errors import MissingDependencyError, ModelError

YOLO_NMS_IOU = 0.5  # YOLO exports give candidates before NMS; it runs here, per tile
NHWC_OFF = ["NhwcTransformer"]  # see open_session


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a base dependency
        raise MissingDependencyError("onnxruntime is not installed: pip install sitewatch") from exc
    return onnxruntime


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_session(path: Path, threads: int = 0) -> Any:
    """An onnxruntime CPU session (`threads` intra-op threads, 0: onnxruntime's choice).

    onnxruntime's NHWC layout transformer is turned off (`NHWC_OFF`). It runs quantised
    convolutions channels-last, which saves their internal transposes, but it moves the
    nearest-neighbour 2x upsampling of the decoder to its channels-last Resize, which is not
    vectorised: on 1024 px tiles of the int8 default, the three upsamplings take 9-12 ms
    channels last against 0.5 ms channels first, and the convolutions 35-42 ms against 42-52 ms
    (onnxruntime 1.32, AVX2 machine of BENCHMARKS.md; benchmarks/profile_tile.py). Per tile that
    came out between equal and 10% in favour of this setting, and end to end no difference was
    measurable with 0.15.2's uint8-input twin; it is kept as never slower. The outputs are
    bit-identical either way. fp32 graphs are not affected (they run in onnxruntime's blocked
    NCHWc layout).

    Its worker threads do not spin waiting for work: between two tiles they would take the
    cores from the thread reading the next tile and from the decoding of this one. Measured end
    to end on the 6144 px scene of benchmarks/bench_detect.py, six runs each, interleaved by a
    throwaway script: median 4.07 s without spinning against 4.49 s with it.
    """
    ort = _ort()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=NHWC_OFF
        )
    except Exception as exc:
        raise ModelError(f"{path}: not an ONNX model onnxruntime can load ({exc})") from exc


def load_spec(path: Path) -> ModelSpec:
    """The spec of a model file (.onnx with sitewatch metadata) or of a registration (.yaml),
    with the score calibration stored beside the model file, if any."""
    spec = _load_spec(path)
    return replace(spec, calibration=read_calibration(spec.path))


def _load_spec(path: Path) -> ModelSpec:
    if path.suffix.lower() in (".yaml", ".yml"):
        return spec_from_yaml(path)
    ort = _ort()
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"{path}: not an ONNX model onnxruntime can load ({exc})") from exc
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ModelError(
            f"{path}: no sitewatch metadata; register the model with a YAML "
            "(layout, classes, input_px, gsd_m) and pass that instead"
        )
    return spec_from_metadata(path, meta[METADATA_KEY])


class OnnxDetector:
    """Runs one ONNX model on batches of tiles."""

    def __init__(self, spec: ModelSpec, threads: int = 0, score_floor: float | None = None) -> None:
        """`score_floor` replaces every class threshold (for evaluation curves)."""
        self.spec = spec
        self.session = open_session(spec.path, threads)
        self.sha256 = file_sha256(spec.path)
        self.info = spec.to_info(self.sha256)
        self.thresholds = np.array(
            [
                (score_floor if score_floor is not None else spec.threshold(c)) if c else 1.0
                for c in spec.classes
            ],
            dtype=np.float32,
        )
        self._input = self.session.get_inputs()[0]
        self._uint8_input = self._input.type == "tensor(uint8)"
        self.fixed_batch = self._input.shape[0] if isinstance(self._input.shape[0], int) else None
        h, w = self._input.shape[2:4] if len(self._input.shape) == 4 else (None, None)
        # a model of a fixed input size (most YOLO exports) gets shorter tiles padded to it
        self.fixed_hw = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        self._check()

    @property
    def tile_px(self) -> int:
        """Tile size the model runs at."""
        return self.spec.input_px

    def _check(self) -> None:
        spec, inputs = self.spec, self.session.get_inputs()
        shape = inputs[0].shape
        if len(inputs) != 1 or len(shape) != 4 or shape[1] not in (3, "3"):
            raise ModelError(
                f"{spec.path}: expected one input of shape (N, 3, H, W), got "
                f"{[tuple(i.shape) for i in inputs]}"
            )
        size = spec.input_px if spec.layout != "sitewatch" else 64
        outputs = self.raw_outputs(np.zeros((1, 3, size, size), dtype=np.uint8))
        shapes = [tuple(o.shape) for o in outputs]
        nc = len(spec.classes)
        if spec.layout == "sitewatch":
            h, m = size // spec.stride, len(spec.mask_classes)
            expected = [(1, nc, h, h), (1, 6, h, h)] + ([(1, m, h, h)] if m else [])
            ok = shapes == expected
            want = str(expected)
        else:
            rows = 4 + nc + (1 if spec.layout == "yolo-obb" else 0)
            ok = len(shapes) >= 1 and len(shapes[0]) == 3 and shapes[0][:2] == (1, rows)
            want = f"[(1, {rows}, anchors)] for {spec.layout} with {nc} classes"
        if not ok:
            raise ModelError(
                f"{spec.path}: outputs {shapes} do not match layout {spec.layout}: expected {want}"
            )

    def raw_outputs(self, batch: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.float32]]:
        """The model's outputs for an (N, 3, H, W) uint8 batch, before decoding. A model whose
        input is uint8 (sitewatch int8 twins since 0.15.2, train/export.py) takes the pixels
        as they are; a float model takes them as float32, 0-255 (sitewatch) or 0-1 (YOLO)."""
        x: npt.NDArray[Any]
        if self._uint8_input:
            x = np.ascontiguousarray(batch, dtype=np.uint8)
        else:
            x = batch.astype(np.float32)
            if self.spec.layout != "sitewatch":
                x /= 255.0
        try:
            return [np.asarray(o) for o in self.session.run(None, {self._input.name: x})]
        except Exception as exc:
            raise ModelError(f"{self.spec.path}: inference failed on {x.shape} ({exc})") from exc

    def predict(self, batch: npt.NDArray[np.uint8]) -> list[list[Detection]]:
        """Detections in tile pixels for each tile of an (N, 3, H, W) uint8 batch.

        Tiles smaller than a fixed model input (the last, shorter tile of a row; a chip smaller
        than the tile) are padded with zeros at the bottom and right, which moves no pixel."""
        if self.fixed_hw is not None and batch.shape[2:] != self.fixed_hw:
            h, w = self.fixed_hw
            if batch.shape[2] <= h and batch.shape[3] <= w:
                padded = np.zeros((*batch.shape[:2], h, w), dtype=batch.dtype)
                padded[:, :, : batch.shape[2], : batch.shape[3]] = batch
                batch = padded
        if self.fixed_batch == 1 and batch.shape[0] > 1:
            return [self._predict(batch[i : i + 1])[0] for i in range(batch.shape[0])]
        return self._predict(batch)

    def _predict(self, batch: npt.NDArray[np.uint8]) -> list[list[Detection]]:
        spec = self.spec
        outputs = self.raw_outputs(batch)
        result = []
        for i in range(batch.shape[0]):
            if spec.layout == "sitewatch":
                masks = outputs[2][i] if spec.mask_classes else None
                result.append(
                    decode_sitewatch(
                        outputs[0][i],
                        outputs[1][i],
                        spec.classes,
                        self.thresholds,
                        spec.stride,
                        masks,
                        spec.mask_classes,
                        spec.footprint_required,
                        spec.footprint_axis,
                    )
                )
            else:
                candidates = decode_yolo(
                    outputs[0][i], spec.classes, self.thresholds, oriented=spec.layout == "yolo-obb"
                )
                result.append(suppress_duplicates(candidates, YOLO_NMS_IOU))
        return result


def load_detector(path: Path, threads: int = 0, score_floor: float | None = None) -> OnnxDetector:
    """A ready detector from a model file or registration YAML; checks happen here."""
    return OnnxDetector(load_spec(path), threads, score_floor)
