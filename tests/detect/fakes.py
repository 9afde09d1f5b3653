"""Test doubles and tiny ONNX graphs for the detector tests.

`FakeDetector` finds painted objects from the pixels themselves: every object is a rectangle whose
red value is its id (1-250, background 0); the fake returns the bounding box of each id it sees in
a tile, so an object cut by a tile border is seen cut, as a real detector would see it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import Detection, ModelInfo, ObjectClass, OrientedBox

FAKE_INFO = ModelInfo("fake-detector", "0" * 64, "fake", tuple(ObjectClass), 256, 0.25, 0.6, {})


class FakeDetector:
    """Detects rectangles painted with their id in the red band."""

    def __init__(self, tile_px: int = 256, info: ModelInfo = FAKE_INFO) -> None:
        self._tile_px = tile_px
        self.info = info
        self.batches: list[int] = []

    @property
    def tile_px(self) -> int:
        return self._tile_px

    def predict(self, batch: npt.NDArray[np.uint8]) -> list[list[Detection]]:
        self.batches.append(batch.shape[0])
        out = []
        for image in batch:
            dets = []
            for obj in np.unique(image[0]):
                if obj == 0:
                    continue
                ys, xs = np.nonzero(image[0] == obj)
                x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
                w, h = float(x1 - x0), float(y1 - y0)
                box = OrientedBox(
                    (x0 + x1) / 2, (y0 + y1) / 2, max(w, h), min(w, h), 0.0 if w >= h else 90.0
                )
                # the score carries the object's id, so tests can tell objects apart
                dets.append(Detection(ObjectClass.SMALL_VEHICLE, float(obj) / 1000, box))
            out.append(dets)
        return out


def paint(rows: int, cols: int, boxes: list[tuple[int, int, int, int]]) -> npt.NDArray[np.uint8]:
    """A (3, rows, cols) image with rectangles (row0, col0, h, w) painted with ids 1, 2, ..."""
    image = np.zeros((3, rows, cols), dtype=np.uint8)
    image[1:] = 90
    for i, (r, c, h, w) in enumerate(boxes, 1):
        image[0, r : r + h, c : c + w] = i
    return image


def yolo_graph(
    path: Path,
    candidates: npt.NDArray[np.float32],
    input_px: int,
    batch: int | str = 1,
) -> Path:
    """An ONNX graph with a YOLO-like output: the constant `candidates` (rows, A) per image.

    The input is used (multiplied by zero and added), so the graph is a real function of it.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rows, anchors = candidates.shape
    const = numpy_helper.from_array(candidates[None].astype(np.float32), "cand")
    zero = numpy_helper.from_array(np.zeros((1,), dtype=np.float32), "zero")
    nodes = [
        helper.make_node("ReduceSum", ["image"], ["s"], keepdims=1),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Reshape", ["z", "shape1"], ["z1"]),
        helper.make_node("Add", ["cand", "z1"], ["output0"]),
    ]
    shape1 = numpy_helper.from_array(np.array([1, 1, 1], dtype=np.int64), "shape1")
    graph = helper.make_graph(
        nodes,
        "yolo-like",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, input_px, input_px])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, rows, anchors])],
        initializer=[const, zero, shape1],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def change_graph(
    path: Path,
    metadata: str | None = None,
    out_channels: int = 1,
) -> Path:
    """A change model as ONNX: probability = sigmoid(mean over bands of |after - before| / 10 - 3),
    so a pixel whose bands differ by 30 or more (of 255) is changed. `out_channels` other than 1
    gives a malformed output; `metadata` is stored under `sitewatch-change` when given."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    scale = numpy_helper.from_array(np.array([0.1], dtype=np.float32), "scale")
    bias = numpy_helper.from_array(np.array([-3.0], dtype=np.float32), "bias")
    nodes = [
        helper.make_node("Sub", ["after", "before"], ["d"]),
        helper.make_node("Abs", ["d"], ["ad"]),
        helper.make_node("ReduceMean", ["ad"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["m", "scale"], ["s"]),
        helper.make_node("Add", ["s", "bias"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
    ]
    if out_channels == 1:
        nodes.append(helper.make_node("Identity", ["p"], ["change"]))
    else:
        nodes.append(helper.make_node("Concat", ["p"] * out_channels, ["change"], axis=1))
    dims = ["n", 3, "h", "w"]
    graph = helper.make_graph(
        nodes,
        "change-like",
        [
            helper.make_tensor_value_info("before", TensorProto.FLOAT, dims),
            helper.make_tensor_value_info("after", TensorProto.FLOAT, dims),
        ],
        [helper.make_tensor_value_info("change", TensorProto.FLOAT, ["n", out_channels, "h", "w"])],
        initializer=[scale, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, {"sitewatch-change": metadata})
    onnx.save(model, str(path))
    return path


CHANGE_META = (
    '{"model_id": "test-change", "gsd_range_m": [0.3, 1.0], "work_gsd_m": 0.5, "threshold": 0.5}'
)
