"""`sitewatch train`: a few steps on the CPU, checkpoints, resume, ONNX fp32 + int8 export that the
runtime loads, and a model card. Needs the `train` extra (torch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_detector
from sitewatch.detect.run import DetectOptions, detect_array

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")


def _dataset(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for name in ("siteA_1", "siteA_2", "siteB_1"):
        img = (rng.random((160, 200, 3)) * 60 + 80).astype(np.uint8)
        lines = []
        for _ in range(6):
            r, c = int(rng.integers(10, 140)), int(rng.integers(10, 170))
            img[r : r + 6, c : c + 14] = 230
            lines.append(f"0 {(c + 7) / 200:.4f} {(r + 3) / 160:.4f} {14 / 200:.4f} {6 / 160:.4f}")
        Image.fromarray(img).save(root / "images" / f"{name}.png")
        (root / "labels" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (root / "names.txt").write_text("car\n")


MASK = "\nmask_classes: [crane]\nfootprint_required: [crane]"


def _config(root: Path, steps: int) -> Path:
    path = root / "train.yaml"
    path.write_text(
        f"""version: "0.0.1"
out: run
steps: {steps}
batch: 2
crop_px: 64
checkpoint_every: 1
gsd_levels_m: [0.3]
datasets:
  - name: painted
    format: yolo
    images: data/images
    labels: data/labels
    names: data/names.txt
    classes: {{car: small_vehicle}}
    gsd_m: 0.3
    val_pattern: "^siteB"
    licence: "made by the test"
"""
    )
    return path


def _continuation(
    root: Path, name: str, out: str, source: str, steps: int, extra: str = ""
) -> Path:
    """A configuration of the test data set continuing the checkpoint `source` into `out`."""
    path = root / name
    text = _config(root, steps).read_text()
    path.write_text(text.replace("out: run", f"out: {out}\ncontinue_from: {source}{extra}"))
    return path


def test_train_resume_export(cli: Callable[..., Any], tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    r = cli("train", str(_config(tmp_path, 2)))
    assert r.code == 0, r.err
    run = tmp_path / "run"
    assert torch.load(run / "last.pt", map_location="cpu")["step"] == 2
    r = cli("train", str(_config(tmp_path, 4)))
    assert r.code == 0, r.err
    log = (run / "train.log").read_text()
    assert "resumed from" in log and "at step 2" in log and "step 4/4" in log
    assert "held out: 1 labelled frames" in log
    fp32, int8, card = (
        run / "sitewatch-det-0.0.1.onnx",
        run / "sitewatch-det-0.0.1-int8.onnx",
        run / "sitewatch-det-0.0.1.md",
    )
    assert "GFLOPs per megapixel" in card.read_text() and "made by the test" in card.read_text()
    image = (np.random.default_rng(1).random((3, 96, 96)) * 255).astype(np.uint8)
    for model in (fp32, int8):
        detector = load_detector(model)
        assert detector.info.classes == tuple(ObjectClass)
        assert (detector.info.gsd_min_m, detector.info.gsd_max_m) == (0.25, 0.6)
        result = detect_array(image, detector, DetectOptions(tile_px=64, overlap_px=16))
        assert result.tiles_run == 4


def test_bad_training_config_names_the_field(cli: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: '1'\nout: run\ncrop_px: 100\ndatasets: []\n")
    r = cli("train", str(path))
    assert r.code == 2 and "crop_px must be a multiple of 32" in r.err
    path.write_text("version: '1'\nout: run\nfootprint_required: [crane]\ndatasets: []\n")
    r = cli("train", str(path))
    assert r.code == 2 and "footprint_required may only name classes in mask_classes" in r.err
    path.write_text("version: '1'\nout: run\nfootprint_axis: [large_vehicle]\ndatasets: []\n")
    r = cli("train", str(path))
    assert r.code == 2 and "footprint_axis may only name classes in mask_classes" in r.err
    path.write_text("version: '1'\nout: run\nmin_length_m: {crane: 0}\ndatasets: []\n")
    r = cli("train", str(path))
    assert r.code == 2 and "min_length_m must map classes to positive lengths" in r.err


def test_continue_from_another_run(cli: Callable[..., Any], tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    assert cli("train", str(_config(tmp_path, 2))).code == 0
    second = _continuation(tmp_path, "second.yaml", "run2", "run/last.pt", 3)
    r = cli("train", str(second))
    assert r.code == 0, r.err
    log = (tmp_path / "run2" / "train.log").read_text()
    assert f"resumed from {tmp_path / 'run' / 'last.pt'} at step 2" in log and "step 3/3" in log
    assert (
        "Continued from the checkpoint `run/last.pt`"
        in (tmp_path / "run2" / "sitewatch-det-0.0.1.md").read_text()
    )
    # the same weights released anew (no step left to train): the run keeps its own checkpoint
    again = _continuation(tmp_path, "again.yaml", "run4", "run2/last.pt", 3)
    r = cli("train", str(again))
    assert r.code == 0, r.err
    assert "already trained (3 steps)" in (tmp_path / "run4" / "train.log").read_text()
    assert torch.load(tmp_path / "run4" / "last.pt", map_location="cpu")["step"] == 3
    assert (tmp_path / "run4" / "sitewatch-det-0.0.1-int8.onnx").exists()
    third = _continuation(tmp_path, "third.yaml", "run3", "nowhere.pt", 3)
    r = cli("train", str(third))
    assert r.code == 2 and "no such checkpoint" in r.err


def test_residual_context_stage_grows_onto_a_checkpoint(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    from sitewatch.train.model import SiteDet

    _dataset(tmp_path / "data")
    assert cli("train", str(_config(tmp_path, 2))).code == 0
    # the grown network starts out computing exactly what the checkpoint computed
    weights = torch.load(tmp_path / "run" / "last.pt", map_location="cpu")["model"]
    plain, grown = SiteDet().eval(), SiteDet(context="residual").eval()
    plain.load_state_dict(weights)
    missing = grown.load_state_dict(weights, strict=False).missing_keys
    assert missing and all(k.startswith(("down5.", "lat4.")) for k in missing)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        for a, b in zip(plain(x), grown(x), strict=True):
            torch.testing.assert_close(a, b)
    grow = _continuation(
        tmp_path, "grow.yaml", "run2", "run/last.pt", 3, "\ncontext_stage: residual"
    )
    r = cli("train", str(grow))
    assert r.code == 0, r.err
    log = (tmp_path / "run2" / "train.log").read_text()
    assert "with new layers (down5, lat4); fresh optimiser" in log and "step 3/3" in log
    detector = load_detector(tmp_path / "run2" / "sitewatch-det-0.0.1.onnx")
    image = (np.random.default_rng(1).random((3, 96, 96)) * 255).astype(np.uint8)
    assert detect_array(image, detector, DetectOptions(tile_px=64, overlap_px=16)).tiles_run == 4
    # the other way round (a checkpoint with layers the network lacks) is refused
    r = cli("train", str(_continuation(tmp_path, "back.yaml", "run3", "run2/last.pt", 4)))
    assert r.code == 2 and "the network lacks layers of the checkpoint" in r.err


def test_crane_extent_mask_grows_onto_a_checkpoint_and_exports(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    import onnxruntime

    _dataset(tmp_path / "data")
    assert cli("train", str(_config(tmp_path, 2))).code == 0
    grow = _continuation(tmp_path, "mask.yaml", "run2", "run/last.pt", 4, MASK)
    r = cli("train", str(grow))
    assert r.code == 0, r.err
    log = (tmp_path / "run2" / "train.log").read_text()
    assert "with new layers (mask); fresh optimiser" in log and " mask " in log
    image = (np.random.default_rng(1).random((3, 96, 96)) * 255).astype(np.uint8)
    for name in ("sitewatch-det-0.0.1.onnx", "sitewatch-det-0.0.1-int8.onnx"):
        path = tmp_path / "run2" / name
        outputs = onnxruntime.InferenceSession(str(path)).get_outputs()
        assert [o.name for o in outputs] == ["peaks", "boxes", "masks"]
        detector = load_detector(path)
        assert detector.info.footprint_classes == (ObjectClass.CRANE,)
        assert detector.spec.footprint_required == (ObjectClass.CRANE,)
        result = detect_array(image, detector, DetectOptions(tile_px=64, overlap_px=16))
        assert result.tiles_run == 4
    card = (tmp_path / "run2" / "sitewatch-det-0.0.1.md").read_text()
    assert "`masks` (N, 1, H/2, W/2)" in card and "(footprint required)" in card


def test_export_graph_computes_what_training_computes() -> None:
    """The export reformulations (fused heads) change no number."""
    from sitewatch.train.model import SiteDet

    torch.manual_seed(0)
    model = SiteDet(mask_classes=1).eval()
    for p in model.parameters():  # non-trivial heads, biases included
        p.data.normal_(0, 0.1)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        heat, box, mask = model(x)
        model.export_mode = True
        peaks, box_e, mask_e = model(x)
    scores = torch.sigmoid(heat)
    local = scores == torch.nn.functional.max_pool2d(scores, 3, 1, 1)
    torch.testing.assert_close(peaks, scores * local)
    torch.testing.assert_close(box_e, box)
    torch.testing.assert_close(mask_e, torch.sigmoid(mask))


def test_a_continuation_can_grow_mask_channels_but_not_shrink_them(tmp_path: Path) -> None:
    """A second mask class is appended: the checkpoint's channel keeps its weights."""
    from sitewatch.errors import ConfigError
    from sitewatch.train.loop import _load_grown
    from sitewatch.train.model import SiteDet

    one, two = SiteDet(mask_classes=1), SiteDet(mask_classes=2)
    fresh = two.mask.weight.detach().clone()
    assert _load_grown(two, one.state_dict(), tmp_path / "a.pt") == ["mask"]
    assert torch.equal(two.mask.weight[:1], one.mask.weight)
    assert torch.equal(two.mask.weight[1:], fresh[1:])
    assert torch.equal(two.heat.weight, one.heat.weight)
    with pytest.raises(ConfigError, match=r"mask.weight is \(2, 16, 1, 1\) in the checkpoint"):
        _load_grown(SiteDet(mask_classes=1), two.state_dict(), tmp_path / "b.pt")


def test_weight_average_is_kept_resumed_and_released(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    _dataset(tmp_path / "data")
    path = _config(tmp_path, 3)
    path.write_text(path.read_text().replace("steps: 3", "steps: 3\nema_decay: 0.5"))
    assert cli("train", str(path)).code == 0
    run = tmp_path / "run"
    state = torch.load(run / "last.pt", map_location="cpu")
    assert state["ema_updates"] == 3
    name = "stem.0.weight"
    raw, avg = state["model"][name], state["ema"][name]
    assert not torch.equal(raw, avg)  # the average lags the last step
    # resumed: the average goes on from the checkpoint's, one update per step
    path.write_text(path.read_text().replace("steps: 3", "steps: 4"))
    assert cli("train", str(path)).code == 0
    after = torch.load(run / "last.pt", map_location="cpu")
    assert after["ema_updates"] == 4
    expected = 0.5 * avg + 0.5 * after["model"][name]
    assert torch.allclose(after["ema"][name], expected, atol=1e-6)
    # the released fp32 model computes with the average, not with the last step's weights
    import onnxruntime as ort

    from sitewatch.train.model import build_model

    x = torch.rand(1, 3, 64, 64) * 255
    session = ort.InferenceSession(str(run / "sitewatch-det-0.0.1.onnx"))
    boxes = session.run(["boxes"], {"image": x.numpy()})[0]
    outputs = {}
    for key in ("ema", "model"):
        net = build_model(after["config"])
        net.load_state_dict(after[key])
        net.eval()
        with torch.no_grad():
            outputs[key] = net(x)[1].numpy()
    assert np.allclose(boxes, outputs["ema"], atol=1e-3)
    assert not np.allclose(boxes, outputs["model"], atol=1e-3)
    assert "moving average of the weights" in (run / "sitewatch-det-0.0.1.md").read_text()
