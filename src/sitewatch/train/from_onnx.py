"""A released sitewatch detector (its fp32 ONNX file) back into the torch network, so that a
training run can continue from a committed model.

Why: a run's checkpoints live under `runs/`, which is not committed, and a checkout does not
keep them; a committed model is the one set of weights every checkout has. A configuration
names the model as `continue_from` and the step it was trained to as `continue_step`; the
model's own metadata (its spec) gives its mask classes, which must come first in the run's
`mask_classes` (a continuation may append classes, as from a checkpoint: train/loop.py).

How: the export folds each batch norm into the convolution before it (W' = W·γ/σ,
b' = β + (b − μ)·γ/σ), so the graph holds the folded convolutions only, in the order the
network runs them, and the three 1x1 heads as one (model.py, `_fused_heads`). The convolutions
are matched to the network's in that order, shape by shape. A folded convolution is unfolded
with one batch of training crops: it keeps W' and no bias, and its batch norm gets the batch's
per-channel mean m and (biased) variance v of W'x as running statistics, γ = sqrt(v + eps) and
β = b' + m. The network then computes the released function exactly in eval mode, and in
training mode on that batch; on other batches, training mode normalises with their own
statistics, as it did when the model was trained. Before training starts, the network with the
folded convolutions is checked against onnxruntime on a few of those crops, and the unfolded
network against the folded one (one onnxruntime session per model). The optimiser's state is
not in the file: it starts fresh.

`average_with` (a run's configuration) names more released models of the same network: each
is rebuilt and checked the same way, and the run starts from the uniform mean of all their
folded convolutions, the form in which the files hold them, before the batch norms are unfolded
(a weight average of points on one training trajectory; with `steps` equal to `continue_step`
it is released as it is). The mean is taken on W' and b', not on W, γ, β and the statistics:
the folded weights are what each convolution computes with, and their mean is the mean of
those linear maps, layer by layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sitewatch.core.models import ObjectClass
from sitewatch.detect.onnx import load_spec, open_session
from sitewatch.detect.spec import ModelSpec
from sitewatch.errors import ConfigError, ModelError
from sitewatch.train.model import BOX_CHANNELS, NUM_CLASSES, SiteDet

# largest difference allowed between onnxruntime's box channels and the rebuilt network's,
# relative to the largest of them
TOLERANCE = 1e-3
_CONTEXTS: tuple[bool | str, ...] = (False, "residual", True)


def weights_from_onnx(
    path: Path, images: torch.Tensor, average_with: Sequence[Path] = ()
) -> tuple[dict[str, Any], ModelSpec]:
    """The state dict of the network a released fp32 model was exported from, its batch norms
    unfolded on `images` (N, 3, H, W float 0-255), and the model's spec. With `average_with`,
    other released models of the same network and mask classes: each folded convolution is
    then the uniform mean of all the models' (each model rebuilt and checked on its own first)."""
    spec = _sitewatch_spec(path)
    net, body, convs = _rebuilt(path, spec, images[:4])
    models = [convs]
    for other in average_with:
        other_spec = _sitewatch_spec(other)
        if other_spec.mask_classes != spec.mask_classes:
            raise ConfigError(
                f"average_with {other}: mask classes {[c.value for c in other_spec.mask_classes]}"
                f", {path.name} has {[c.value for c in spec.mask_classes]}"
            )
        _, _, theirs = _rebuilt(other, other_spec, images[:4])
        shapes = [w.shape for w, _ in theirs]
        if shapes != [w.shape for w, _ in convs]:
            raise ConfigError(
                f"average_with {other}: its convolutions {shapes} are another network"
            )
        models.append(theirs)
    if average_with:
        mean = [
            (np.mean([m[i][0] for m in models], axis=0), np.mean([m[i][1] for m in models], axis=0))
            for i in range(len(convs))
        ]
        _load_folded(net, body, mean)
    folded = _box_channels(net, images[:4])
    _unfold_batch_norms(net, body, images)
    _check_close(
        path,
        folded,
        _box_channels(net, images[:4]),
        "the network's outputs changed when its batch norms were unfolded",
    )
    return net.state_dict(), spec


def _sitewatch_spec(path: Path) -> ModelSpec:
    try:
        spec = load_spec(path)
    except ModelError as exc:
        raise ConfigError(f"continue_from {path}: {exc}") from exc
    if spec.layout != "sitewatch":
        raise ConfigError(f"continue_from {path}: a {spec.layout} model, not a sitewatch one")
    return spec


def _rebuilt(
    path: Path, spec: ModelSpec, images: torch.Tensor
) -> tuple[SiteDet, list[str], list[tuple[np.ndarray, np.ndarray]]]:
    """The network with the model's folded convolutions (batch norms the identity plus b'),
    checked against onnxruntime on `images`; its body and the convolutions."""
    convs = _graph_convs(path)
    net, body = _network_for(path, convs, len(spec.mask_classes))
    _load_folded(net, body, convs)
    _check_against_runtime(path, net, images)
    return net, body, convs


def check_mask_prefix(path: Path, spec: ModelSpec, mask_classes: Sequence[ObjectClass]) -> None:
    """A continuation keeps the model's mask channels first: its mask classes must lead."""
    have = [c.value for c in spec.mask_classes]
    want = [c.value for c in mask_classes]
    if want[: len(have)] != have:
        raise ConfigError(
            f"continue_from {path}: the model's mask classes {have} must come first in "
            f"mask_classes (got {want})"
        )


def _graph_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of every Conv node, in graph order; refuses a quantised model."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    if any(n.op_type in ("DequantizeLinear", "QLinearConv") for n in graph.node):
        raise ConfigError(
            f"continue_from {path}: a quantised model; continue from its fp32 twin instead"
        )
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:  # the exporter shares equal tensors through Identity nodes
        if node.op_type == "Identity" and node.input[0] in init:
            init[node.output[0]] = init[node.input[0]]
        elif node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            init[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    convs = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        if len(node.input) < 3 or node.input[1] not in init or node.input[2] not in init:
            raise ConfigError(f"continue_from {path}: Conv {node.name} has no stored weights")
        convs.append((init[node.input[1]], init[node.input[2]]))
    return convs


def _conv_order(net: SiteDet) -> list[str]:
    """The names of the network's convolutions in the order its forward pass runs them."""
    order: list[str] = []
    names = {id(m): n for n, m in net.named_modules()}
    hooks = [
        m.register_forward_hook(lambda m, i, o: order.append(names[id(m)]))
        for m in net.modules()
        if isinstance(m, nn.Conv2d)
    ]
    was = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, 64, 64))
    net.train(was)
    for h in hooks:
        h.remove()
    return order


def _body(net: SiteDet) -> list[str]:
    """The convolutions before the heads, in order (the heads are one Conv in the graph)."""
    return [n for n in _conv_order(net) if n not in ("heat", "box", "mask")]


def _network_for(
    path: Path, convs: list[tuple[np.ndarray, np.ndarray]], masks: int
) -> tuple[SiteDet, list[str]]:
    """The network (with or without the context stage) whose convolutions have the graph's
    shapes, and its convolutions before the heads in running order; a ConfigError naming the
    shapes if none has."""
    shapes = [tuple(w.shape) for w, _ in convs]
    heads = NUM_CLASSES + BOX_CHANNELS + masks
    for context in _CONTEXTS:
        net = SiteDet(context=context, mask_classes=masks)
        modules = dict(net.named_modules())
        body = _body(net)
        want = [tuple(modules[n].weight.shape) for n in body]
        if shapes[:-1] == want and shapes[-1][0] == heads:
            return net, body
    raise ConfigError(
        f"continue_from {path}: its convolutions {shapes} match no sitewatch network "
        f"with {masks} mask class(es)"
    )


def _load_folded(net: SiteDet, body: list[str], convs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Put the folded weights in; each batch norm passes its input through plus b'."""
    modules = dict(net.named_modules())
    with torch.no_grad():
        for name, (w, b) in zip(body, convs[:-1], strict=True):
            conv = modules[name]
            conv.weight.copy_(torch.tensor(w))
            bn = _batch_norm_after(modules, name)
            if bn is None:
                assert conv.bias is not None
                conv.bias.copy_(torch.tensor(b))
                continue
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.tensor(b))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        weight, bias = (torch.tensor(a) for a in convs[-1])
        start = 0
        for head in (net.heat, net.box, net.mask):
            if head is None:
                continue
            n = head.out_channels
            head.weight.copy_(weight[start : start + n])
            assert head.bias is not None
            head.bias.copy_(bias[start : start + n])
            start += n


def _batch_norm_after(modules: dict[str, Any], conv: str) -> Any:
    """The batch norm right after convolution `conv` in its ConvBNReLU (`x.0` -> `x.1`)."""
    parent, _, index = conv.rpartition(".")
    if not index.isdigit():
        return None
    bn = modules.get(f"{parent}.{int(index) + 1}")
    return bn if isinstance(bn, nn.BatchNorm2d) else None


def _unfold_batch_norms(net: SiteDet, body: list[str], images: torch.Tensor) -> None:
    """Give each batch norm the statistics of its convolution's output on `images`."""
    modules = dict(net.named_modules())
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: torch.Tensor) -> None:
            stats[name] = (output.mean((0, 2, 3)), output.var((0, 2, 3), unbiased=False))

        return hook

    folded = {n: bn for n in body if (bn := _batch_norm_after(modules, n)) is not None}
    hooks = [modules[n].register_forward_hook(keep(n)) for n in folded]
    net.eval()
    with torch.no_grad():
        net(images)
        for h in hooks:
            h.remove()
        for name, bn in folded.items():
            mean, var = stats[name]
            bn.bias.add_(mean)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)


def _check_against_runtime(path: Path, net: SiteDet, images: torch.Tensor) -> None:
    """The rebuilt network must give the model's box channels on the same crops (eval mode;
    the box channels, not the peaks: a peak can move to a neighbour on a rounding-level tie)."""
    session = open_session(path, threads=0)
    theirs = session.run(["boxes"], {"image": images.numpy().astype(np.float32)})[0]
    _check_close(
        path,
        theirs,
        _box_channels(net, images),
        "the rebuilt network's outputs differ from the model's; its graph is not one this "
        "version of sitewatch exported",
    )


def _box_channels(net: SiteDet, images: torch.Tensor) -> np.ndarray:
    """The network's box channels on `images`, in eval mode as exported."""
    net.eval()
    net.export_mode = True
    with torch.no_grad():
        ours: np.ndarray = net(images)[1].numpy()
    net.export_mode = False
    return ours


def _check_close(path: Path, want: np.ndarray, got: np.ndarray, problem: str) -> None:
    """A ConfigError naming `problem` where `got` differs from `want` by more than TOLERANCE,
    relative to the largest of `want`."""
    worst = float(np.abs(want - got).max() / (np.abs(want).max() + 1.0))
    if not worst <= TOLERANCE:
        raise ConfigError(f"continue_from {path}: {problem} (by {worst:.2g}, relative)")
