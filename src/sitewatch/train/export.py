"""Export of a trained checkpoint: a single-file ONNX model (fp32) with its spec as metadata, and
an int8 statically quantised twin (QDQ, per-channel weights, calibrated on training crops).

The int8 twin's weights use 7 of their 8 bits (onnxruntime's `reduce_range`) since 0.15.1. On an
x86 CPU without VNNI (AVX2 only, as many AMD EPYC and older Intel servers and laptops are),
onnxruntime multiplies uint8 activations by int8 weights with an instruction that adds pairs of
products into 16 bits and saturates; with full-range weights the sums overflow, and the same int8
file gives other detections than on a VNNI CPU. Measured on such a machine (AMD EPYC, AVX2,
onnxruntime 1.32), held-out, 0.3 m: 0.15.0's 8-bit twin counted cars with MAPE 13.1% (7.5% on the
VNNI machine its figures were made on; fp32 6.9%) and found cranes at AP50 0.524 (fp32 0.642);
the same weights quantised with 7 bits gave 7.5% and 0.574, and ran end to end in 5.11 s against
5.45 s for the 8-bit twin (BENCHMARKS.md). Asymmetric uint8 weights (U8U8) also avoid the
overflow but timed as slowly as fp32 on one-thread tiles. The int8 twin is the default, so its
figures must not depend on the CPU it runs on. On a VNNI CPU 7 bits can only lose precision
against 8; not measured (configs/train-det-0.15.1.yaml).

The exporter folds each batch norm into the convolution before it (eval mode), so the graph holds
convolutions only; train/from_onnx.py unfolds them to continue training from a released model.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sitewatch.core.models import ObjectClass
from sitewatch.detect.spec import METADATA_KEY, ModelSpec
from sitewatch.errors import MissingDependencyError

OPSET = 17


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError(
            "training and export need torch: pip install 'sitewatch[train]'"
        ) from exc
    return torch


def released_weights(state: dict[str, Any]) -> dict[str, Any]:
    """The weights a training checkpoint releases: its moving average where the run keeps one
    (`ema_decay`, train/loop.py), else the raw weights of its last step."""
    weights: dict[str, Any] = state.get("ema", state["model"])
    return weights


def export_onnx(checkpoint: Path, out: Path, spec: ModelSpec) -> Path:
    """Write the fp32 ONNX model with `spec` stored under the `sitewatch` metadata key."""
    torch = _torch()
    from sitewatch.train.model import build_model

    state = torch.load(checkpoint, map_location="cpu")
    model = build_model(state.get("config", {}))
    model.load_state_dict(released_weights(state))
    model.eval()
    model.export_mode = True
    outputs: dict[str, dict[int, str] | None] = {"peaks": None, "boxes": None}
    if model.mask is not None:
        outputs["masks"] = None
    return write_onnx(
        model,
        {"image": torch.zeros(1, 3, 256, 256)},
        outputs,
        out,
        {METADATA_KEY: spec.to_metadata()},
    )


def write_onnx(
    model: Any,
    inputs: dict[str, Any],
    outputs: dict[str, dict[int, str] | None],
    out: Path,
    props: dict[str, str],
) -> Path:
    """Export `model` (eval mode) to one ONNX file with `props` as its only metadata.

    `inputs` maps input names to example tensors, each with symbolic batch, height and width;
    `outputs` maps output names to their symbolic axes (None: none declared). The TorchScript
    exporter gives a plain opset-17 graph in one call; torch 2.13 marks it deprecated, so its
    warning is silenced here on purpose.
    """
    import onnx

    torch = _torch()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.onnx")
    dims = {0: "n", 2: "h", 3: "w"}
    axes = {name: dims for name in inputs} | {k: v for k, v in outputs.items() if v is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            tuple(inputs.values()),
            str(tmp),
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load(str(tmp))
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(out))
    tmp.unlink()
    return out


def write_spec(path: Path, spec: ModelSpec) -> None:
    """Replace the spec stored in an ONNX file (the graph is left as it is)."""
    import onnx

    proto = onnx.load(str(path))
    _set_metadata(proto, spec)
    onnx.save(proto, str(path))


def _set_metadata(proto: Any, spec: ModelSpec) -> None:
    import onnx

    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {METADATA_KEY: spec.to_metadata()})


def quantize_int8(
    fp32: Path, out: Path, spec: ModelSpec, calibration: Sequence[npt.NDArray[np.uint8]]
) -> Path:
    """Static int8 quantisation (QDQ, per-channel 7-bit weights: see the module docstring)
    calibrated on uint8 (3, H, W) crops."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            item = next(self.items, None)
            if item is None:
                return None
            return {"image": item[None].astype(np.float32)}

    pre = out.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    quantize_static(
        str(pre),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=_head_nodes(pre),
        reduce_range=True,
    )
    pre.unlink()
    take_uint8_pixels(out)
    write_spec(out, spec)
    return out


def take_uint8_pixels(path: Path) -> bool:
    """Let a quantised sitewatch graph take its uint8 pixels as they are, where that is exact.

    The network's first ops normalise float pixels, `(x - MEAN) / STD`, and the quantiser then
    turns them back into uint8 with the scale and zero point it calibrated. When that round trip
    gives every pixel value 0-255 back unchanged (calibration crops spanning 0-255 give scale
    1/STD and zero point MEAN), the Sub, Div and QuantizeLinear are removed and the graph's input
    becomes uint8: the same integers reach the first convolution, without a float copy of the
    tile or three passes over it. Checked here on all 256 values with the graph's own scale and
    zero point, in float32 as onnxruntime computes it; where it does not hold, the graph is left
    as it is (float input) and False returned.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    graph = proto.graph
    inits = {i.name: i for i in graph.initializer}
    consts = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    image = graph.input[0].name
    consumers = [n for n in graph.node if image in n.input]
    if len(consumers) != 1 or consumers[0].op_type != "Sub":
        return False
    sub = consumers[0]
    div = next((n for n in graph.node if sub.output[0] in n.input), None)
    if div is None or div.op_type != "Div":
        return False
    quant = [n for n in graph.node if div.output[0] in n.input]
    if len(quant) != 1 or quant[0].op_type != "QuantizeLinear":
        return False

    def value(name: str) -> npt.NDArray[Any]:
        if name in inits:
            return np.asarray(numpy_helper.to_array(inits[name]))
        node = consts[name]
        return np.asarray(numpy_helper.to_array(node.attribute[0].t))

    mean, std = value(sub.input[1]).astype(np.float32), value(div.input[1]).astype(np.float32)
    scale, zero = value(quant[0].input[1]).astype(np.float32), value(quant[0].input[2])
    if mean.size != 1 or std.size != 1 or scale.size != 1 or zero.dtype != np.uint8:
        return False
    pixels = np.arange(256, dtype=np.float32)
    normalised = (pixels - mean) / std
    back = np.clip(np.rint(normalised / scale) + zero.astype(np.float32), 0, 255)
    if not np.array_equal(back, pixels):
        return False
    q_out = quant[0].output[0]
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name == q_out:
                node.input[k] = image
    for node in (sub, div, quant[0]):
        graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.UINT8
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return True


def _head_nodes(path: Path) -> list[str]:
    """The output heads and everything after them stay in float (scores and box regressions)."""
    import onnx

    graph = onnx.load(str(path)).graph
    outputs = {o.name for o in graph.output}
    keep_float: set[str] = set()
    producers = {out: node for node in graph.node for out in node.output}
    frontier = list(outputs)
    while frontier:
        name = frontier.pop()
        node = producers.get(name)
        if node is None or node.name in keep_float:
            continue
        keep_float.add(node.name)
        if node.op_type != "Conv":
            frontier.extend(node.input)
    return sorted(keep_float)


def default_spec(
    path: Path,
    model_id: str,
    gsd_range_m: tuple[float, float],
    thresholds: dict[ObjectClass, float],
    input_px: int = 1024,
    work_gsd_m: float | None = None,
    mask_classes: Sequence[ObjectClass] = (),
    footprint_required: Sequence[ObjectClass] = (),
    footprint_axis: Sequence[ObjectClass] = (),
    min_length_m: Mapping[ObjectClass, float] | None = None,
) -> ModelSpec:
    """The spec of a sitewatch model."""
    return ModelSpec(
        path,
        model_id,
        "sitewatch",
        tuple(ObjectClass),
        input_px,
        gsd_range_m[0],
        gsd_range_m[1],
        thresholds,
        2,
        work_gsd_m=work_gsd_m,
        mask_classes=tuple(mask_classes),
        footprint_required=tuple(footprint_required),
        footprint_axis=tuple(footprint_axis),
        min_length_m=dict(min_length_m or {}),
    )
