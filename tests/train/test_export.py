"""The int8 twin takes uint8 pixels where that is exact, and runs what the float-input graph runs.
Needs the `train` extra (torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector, open_session
from sitewatch.detect.run import DetectOptions, detect_array

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")


def _int8_twin(tmp_path: Path, crops: list[np.ndarray], name: str) -> tuple[Path, Path]:
    """A random small network exported to fp32, then quantised with `crops`; the quantised
    file before the uint8 step is kept beside it (`<name>-float-input.onnx`)."""
    from sitewatch.train import export
    from sitewatch.train.model import SiteDet

    torch.manual_seed(0)
    model = SiteDet(mask_classes=1).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    model.export_mode = True
    spec = export.default_spec(
        tmp_path / f"{name}.onnx",
        name,
        (0.25, 0.6),
        {c: 0.05 for c in ObjectClass},
        64,
        mask_classes=[ObjectClass("crane")],
    )
    fp32 = export.write_onnx(
        model,
        {"image": torch.zeros(1, 3, 64, 64)},
        {"peaks": None, "boxes": None, "masks": None},
        tmp_path / f"{name}.onnx",
        {export.METADATA_KEY: spec.to_metadata()},
    )
    kept = tmp_path / f"{name}-float-input.onnx"
    convert = export.take_uint8_pixels

    def keep_then_convert(path: Path) -> bool:
        kept.write_bytes(path.read_bytes())
        return convert(path)

    export.take_uint8_pixels = keep_then_convert  # type: ignore[assignment]
    try:
        int8 = export.quantize_int8(fp32, tmp_path / f"{name}-int8.onnx", spec, crops)
    finally:
        export.take_uint8_pixels = convert  # type: ignore[assignment]
    return int8, kept


def _input_type(path: Path) -> str:
    return str(open_session(path).get_inputs()[0].type)


def test_int8_twin_takes_uint8_pixels_with_the_same_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (3, 64, 64), dtype=np.uint8) for _ in range(4)]
    crops[0][:, 0, 0], crops[0][:, 0, 1] = 0, 255  # the calibration spans every pixel value
    int8, float_input = _int8_twin(tmp_path, crops, "full")
    assert _input_type(int8) == "tensor(uint8)"
    assert _input_type(float_input) == "tensor(float)"
    image = rng.integers(0, 256, (1, 3, 96, 128), dtype=np.uint8)
    image[0, :, 0, :] = np.arange(128)  # and every value reaches the network
    image[0, :, 1, :] = np.arange(128, 256)
    ours = open_session(int8).run(None, {"image": image})
    theirs = open_session(float_input).run(None, {"image": image.astype(np.float32)})
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    # the runtime feeds each its own input type and finds the same objects
    found = [
        detect_array(image[0], load_detector(m), DetectOptions(tile_px=64, overlap_px=16))
        for m in (int8, float_input)
    ]
    assert found[0].detections == found[1].detections and found[0].detections


def test_int8_twin_keeps_float_input_where_uint8_would_not_be_exact(tmp_path: Path) -> None:
    """Calibration crops of mid-grey only give a finer input scale: pixels outside their range
    would be clipped differently, so the graph keeps its float input."""
    rng = np.random.default_rng(1)
    crops = [rng.integers(80, 160, (3, 64, 64), dtype=np.uint8) for _ in range(4)]
    int8, float_input = _int8_twin(tmp_path, crops, "grey")
    assert _input_type(int8) == "tensor(float)"
    assert int8.read_bytes() != b"" and _input_type(float_input) == "tensor(float)"
