"""Continuing training from a released model (train/from_onnx.py): the batch norms the export
folded are unfolded, and the rebuilt network computes what the model computes. Needs the
`train` extra (torch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import open_session

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")

from sitewatch.detect.spec import METADATA_KEY  # noqa: E402
from sitewatch.errors import ConfigError  # noqa: E402
from sitewatch.train.export import default_spec, export_onnx, write_onnx  # noqa: E402
from sitewatch.train.from_onnx import weights_from_onnx  # noqa: E402
from sitewatch.train.model import SiteDet, build_model  # noqa: E402
from tests.train.test_train_cli import _config, _continuation, _dataset  # noqa: E402


def _released(tmp_path: Path, net: SiteDet, config: dict[str, Any], masks: tuple = ()) -> Path:
    """`net` saved as a checkpoint and exported as a released fp32 model."""
    ckpt, out = tmp_path / "net.pt", tmp_path / "net.onnx"
    torch.save({"model": net.state_dict(), "config": config}, ckpt)
    spec = default_spec(out, "net", (0.25, 0.6), {}, mask_classes=masks)
    return export_onnx(ckpt, out, spec)


def _trained_looking(net: SiteDet, seed: int = 0) -> SiteDet:
    """Random weights and batch-norm statistics far from (0, 1), so folding changes numbers."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.3)
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 4.0)
    return net.eval()


@pytest.mark.parametrize(
    ("config", "masks"),
    [({}, ()), ({"context_stage": True, "mask_classes": ["crane"]}, (ObjectClass.CRANE,))],
)
def test_rebuilt_network_computes_the_released_function(
    tmp_path: Path, config: dict[str, Any], masks: tuple
) -> None:
    original = _trained_looking(build_model(config))
    path = _released(tmp_path, original, config, masks)
    images = torch.rand(6, 3, 64, 64) * 255
    weights, spec = weights_from_onnx(path, images)
    assert spec.mask_classes == masks
    rebuilt = build_model(config)
    rebuilt.load_state_dict(weights)
    rebuilt.eval()
    x = torch.rand(2, 3, 96, 96) * 255
    with torch.no_grad():
        for a, b in zip(original(x), rebuilt(x), strict=True):
            if a is not None:
                torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-3)
        # in training mode, on the crops it was unfolded with, it computes the same again
        want = original(images)
        rebuilt.train()
        got = rebuilt(images)
    torch.testing.assert_close(got[0], want[0], rtol=1e-3, atol=1e-3)
    # the unfolded batch norms are not the identity: their statistics were estimated
    assert float(weights["stem.1.running_var"].std()) > 0


def _trained_looking_seeded(config: dict[str, Any], seed: int) -> SiteDet:
    """A network of `config` with weights moved off its initialisation by `seed`."""
    net = build_model(config)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return _trained_looking(net, seed)


def _averaged_graph(a: Path, b: Path, out: Path) -> Path:
    """`a` with every Conv initializer replaced by the mean of `a`'s and `b`'s (onnx itself,
    not sitewatch's reading of the graph)."""
    import onnx
    from onnx import numpy_helper

    ga, gb = onnx.load(str(a)), onnx.load(str(b))
    theirs = {t.name: numpy_helper.to_array(t) for t in gb.graph.initializer}
    conv_inputs = {i for n in ga.graph.node if n.op_type == "Conv" for i in n.input[1:]}
    assert conv_inputs <= set(theirs), "both exports name their weights alike"
    for t in ga.graph.initializer:
        if t.name in conv_inputs:
            mean = (numpy_helper.to_array(t) + theirs[t.name]) / 2
            t.CopyFrom(numpy_helper.from_array(mean.astype(np.float32), t.name))
    onnx.save(ga, str(out))
    return out


def test_average_with_gives_the_mean_of_the_released_functions_weights(tmp_path: Path) -> None:
    config: dict[str, Any] = {"mask_classes": ["crane"]}
    masks = (ObjectClass.CRANE,)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _released(tmp_path / "a", _trained_looking_seeded(config, 1), config, masks)
    b = _released(tmp_path / "b", _trained_looking_seeded(config, 2), config, masks)
    images = torch.rand(6, 3, 64, 64) * 255
    weights, _ = weights_from_onnx(a, images, [b])
    rebuilt = build_model(config)
    rebuilt.load_state_dict(weights)
    rebuilt.eval()
    rebuilt.export_mode = True
    x = torch.rand(2, 3, 96, 96) * 255
    with torch.no_grad():
        got = rebuilt(x)[1].numpy()
    want = open_session(_averaged_graph(a, b, tmp_path / "mean.onnx"), threads=0).run(
        ["boxes"], {"image": x.numpy()}
    )[0]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    # the mean is neither model: each differs from it
    for one in (a, b):
        alone = open_session(one, threads=0).run(["boxes"], {"image": x.numpy()})[0]
        assert float(np.abs(alone - want).max()) > 1e-2
    # a model with other mask classes is another network's head
    (tmp_path / "c").mkdir()
    c = _released(tmp_path / "c", _trained_looking_seeded({}, 3), {}, ())
    with pytest.raises(ConfigError, match=r"average_with .*mask classes \[\]"):
        weights_from_onnx(a, images, [c])


def test_a_network_of_other_widths_is_refused_with_its_shapes(tmp_path: Path) -> None:
    other = SiteDet(widths=(8, 24, 48, 96)).eval()
    other.export_mode = True
    path = tmp_path / "other.onnx"
    spec = default_spec(path, "other", (0.25, 0.6), {})
    outputs: dict[str, Any] = {"peaks": None, "boxes": None}
    write_onnx(
        other,
        {"image": torch.zeros(1, 3, 64, 64)},
        outputs,
        path,
        {METADATA_KEY: spec.to_metadata()},
    )
    with pytest.raises(ConfigError, match=r"its convolutions \[\(8, 3, 3, 3\)"):
        weights_from_onnx(path, torch.rand(2, 3, 64, 64) * 255)


def test_train_continues_from_a_released_model(cli: Callable[..., Any], tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    assert cli("train", str(_config(tmp_path, 2))).code == 0
    released = "run/sitewatch-det-0.0.1.onnx"
    extra = "\ncontinue_step: 2\nmask_classes: [crane]"
    second = _continuation(tmp_path, "second.yaml", "run2", released, 3, extra)
    r = cli("train", str(second))
    assert r.code == 0, r.err
    log = (tmp_path / "run2" / "train.log").read_text()
    assert "continuing from the released model" in log and "with new layers (mask)" in log
    assert "at step 2; fresh optimiser" in log and "step 3/3" in log
    card = (tmp_path / "run2" / "sitewatch-det-0.0.1.md").read_text()
    assert "Continued from the released model `sitewatch-det-0.0.1.onnx` at step 2" in card
    # the run's own checkpoint comes first once there is one
    again = _continuation(tmp_path, "second.yaml", "run2", released, 4, extra)
    assert cli("train", str(again)).code == 0
    assert "resumed from" in (tmp_path / "run2" / "train.log").read_text()
    # continue_step 0: the released weights under a fresh learning-rate schedule
    restart = _continuation(tmp_path, "r.yaml", "run8", released, 1, "\ncontinue_step: 0")
    assert cli("train", str(restart)).code == 0
    card = (tmp_path / "run8" / "sitewatch-det-0.0.1.md").read_text()
    assert "`sitewatch-det-0.0.1.onnx` with a fresh learning-rate schedule (counted from" in card
    # refused: the int8 twin, no step, a mask order that would reorder the model's channels
    int8 = _continuation(
        tmp_path, "q.yaml", "run3", "run/sitewatch-det-0.0.1-int8.onnx", 3, "\ncontinue_step: 2"
    )
    r = cli("train", str(int8))
    assert r.code == 2 and "a quantised model; continue from its fp32 twin" in r.err
    r = cli("train", str(_continuation(tmp_path, "n.yaml", "run4", released, 3)))
    assert r.code == 2 and "continue_step goes with a released model" in r.err
    crane = "run2/sitewatch-det-0.0.1.onnx"
    swapped = "\ncontinue_step: 4\nmask_classes: [large_vehicle, crane]"
    r = cli("train", str(_continuation(tmp_path, "s.yaml", "run5", crane, 5, swapped)))
    assert r.code == 2 and "the model's mask classes ['crane'] must come first" in r.err
    # an average of released models, released as it is (no steps of its own)
    averaged = f"\ncontinue_step: 2\naverage_with: [{released}, {released}]"
    r = cli("train", str(_continuation(tmp_path, "a.yaml", "run6", released, 2, averaged)))
    assert r.code == 0, r.err
    assert "averaged with" in (tmp_path / "run6" / "train.log").read_text()
    card = (tmp_path / "run6" / "sitewatch-det-0.0.1.md").read_text()
    names = "`sitewatch-det-0.0.1.onnx`, `sitewatch-det-0.0.1.onnx` and `sitewatch-det-0.0.1.onnx`"
    assert f"the uniform mean of the released models {names} (of their" in card
    assert "those it started from, unchanged (no training step)" in card
    from_checkpoint = f"\naverage_with: [{released}]"
    r = cli(
        "train", str(_continuation(tmp_path, "b.yaml", "run7", "run/last.pt", 3, from_checkpoint))
    )
    assert r.code == 2 and "average_with goes with a released model" in r.err
