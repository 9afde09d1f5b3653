"""The sitewatch detector: a small anchor-free oriented-box network in pure torch.

Encoder: plain 3x3 conv-BN-ReLU stages at strides 2, 4, 8 and 16, optionally a stride-32 context
stage (cranes and trains are longer than the stride-16 receptive field of about 150 px).
Decoder: nearest upsampling with lateral 1x1 connections back to stride 2, the output stride, so
that two cars parked side by side at 0.5 m (about 2.5 m apart, 2.5 output cells) give
two peaks. Heads: a per-class centre heatmap, and per cell (dx, dy, log length, log width,
sin 2a, cos 2a) in output cells. The exported graph takes float32 pixels 0-255 (N, 3, H, W) and
returns `peaks` (class scores kept only at 3x3 local maxima) and `boxes` (the raw box channels).

Extent masks (optional, `mask_classes`): per output cell, the probability that it lies on the
footprint of an object of that class, one 1x1 conv on the last features (0.01 GFLOPs/MP). They
serve objects much longer than what a centre cell can measure: a crane jib of 30-90 m is
recognisable locally along its whole length, while regressing its length from the centre cell
came out at a quarter to a half of the truth. The exported graph then also returns `masks`
(sigmoid probabilities, N, M, H/2, W/2), and the decoder takes such a box from the footprint
around the peak (detect/decode.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional

NUM_CLASSES = 5
STRIDE = 2
BOX_CHANNELS = 6
MEAN, STD = 110.0, 60.0


class ConvBNReLU(nn.Sequential):
    """3x3 (or k x k) convolution, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1, k: int = 3) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class SiteDet(nn.Module):
    """Centre-heatmap detector with oriented boxes at output stride 2."""

    def __init__(
        self,
        widths: tuple[int, int, int, int] = (16, 24, 48, 96),
        head: int = 16,
        context: bool | str = False,
        mask_classes: int = 0,
    ):
        """`context` adds a stride-32 stage (128 channels) for long objects (cranes, trains):
        True fuses it into stride 16 through a 3x3 conv; "residual" adds it through a 1x1 conv
        initialised to zero and nothing else, so that a network trained without it starts out
        unchanged when the stage is added (a continuation can grow it)."""
        super().__init__()
        w1, w2, w3, w4 = widths
        if context not in (False, True, "residual"):
            raise ValueError(f"context {context!r}: expected false, true or 'residual'")
        self.context = context
        if context:
            self.down5 = nn.Sequential(ConvBNReLU(w4, 128, 2), ConvBNReLU(128, 128))
            self.lat4 = nn.Conv2d(128, w4, 1)
        if context is True:
            self.fuse4 = ConvBNReLU(w4, w4)
        elif context == "residual":
            nn.init.zeros_(self.lat4.weight)
            assert self.lat4.bias is not None
            nn.init.zeros_(self.lat4.bias)
        self.stem = ConvBNReLU(3, w1, 2)
        self.down2 = nn.Sequential(ConvBNReLU(w1, w2, 2), ConvBNReLU(w2, w2))
        self.down3 = nn.Sequential(ConvBNReLU(w2, w3, 2), ConvBNReLU(w3, w3))
        self.down4 = nn.Sequential(ConvBNReLU(w3, w4, 2), ConvBNReLU(w4, w4), ConvBNReLU(w4, w4))
        self.lat3 = nn.Conv2d(w4, w3, 1)
        self.fuse3 = ConvBNReLU(w3, w3)
        self.lat2 = nn.Conv2d(w3, w2, 1)
        self.fuse2 = ConvBNReLU(w2, w2)
        self.lat1 = nn.Conv2d(w2, head, 1)
        self.skip1 = nn.Conv2d(w1, head, 1)
        self.fuse1 = ConvBNReLU(head, head)
        self.heat = nn.Conv2d(head, NUM_CLASSES, 1)
        self.box = nn.Conv2d(head, BOX_CHANNELS, 1)
        assert self.heat.bias is not None
        nn.init.constant_(self.heat.bias, -2.19)
        self.mask = nn.Conv2d(head, mask_classes, 1) if mask_classes else None
        if self.mask is not None:
            assert self.mask.bias is not None
            nn.init.constant_(self.mask.bias, -4.0)
        self.export_mode = False

    def forward(self, x: torch.Tensor) -> Any:
        x = (x - MEAN) / STD
        c1 = self.stem(x)
        c2 = self.down2(c1)
        c3 = self.down3(c2)
        c4 = self.down4(c3)
        if self.context:
            c5 = self.down5(c4)
            c4 = c4 + _up(self.lat4(c5))
            if self.context is True:
                c4 = self.fuse4(c4)
        p3 = self.fuse3(c3 + _up(self.lat3(c4)))
        p2 = self.fuse2(c2 + _up(self.lat2(p3)))
        p1 = self.fuse1(self.skip1(c1) + _up(self.lat1(p2)))
        if not self.export_mode:
            mask = self.mask(p1) if self.mask is not None else None
            return self.heat(p1), self.box(p1), mask
        heat, box, mask = self._fused_heads(p1)
        scores = torch.sigmoid(heat)
        pooled = functional.max_pool2d(scores, 3, 1, 1)
        peaks = scores * (pooled == scores).to(scores.dtype)
        if mask is not None:
            return peaks, box, torch.sigmoid(mask)
        return peaks, box

    def _fused_heads(self, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """The 1x1 heads as one convolution, split after: the same numbers, but onnxruntime
        runs one blocked convolution instead of three (each pads its few output channels to a
        block; a separate 16 -> 1 mask head cost 3.4 ms per 1024 px tile, 8% of the network)."""
        heads = [self.heat, self.box] + ([self.mask] if self.mask is not None else [])
        weight = torch.cat([h.weight for h in heads])
        bias = torch.cat([h.bias for h in heads if h.bias is not None])
        out = functional.conv2d(p1, weight, bias)
        c, b = self.heat.out_channels, self.box.out_channels
        mask = out[:, c + b :] if self.mask is not None else None
        return out[:, :c], out[:, c : c + b], mask


def _up(x: torch.Tensor) -> torch.Tensor:
    """Nearest 2x upsampling. The lateral 1x1 convolutions run before it, not after: a 1x1
    convolution commutes with nearest upsampling, so the result is the same, for a quarter of
    the convolution's work and fewer channels to upsample."""
    return functional.interpolate(x, scale_factor=2.0)


def build_model(config: Any) -> SiteDet:
    """The network a training configuration (object or its dict) asks for."""
    fields: dict[str, Any] = config if isinstance(config, dict) else dict(config)
    context = fields.get("context_stage", False)
    return SiteDet(
        context=context if context == "residual" else bool(context),
        mask_classes=len(fields.get("mask_classes") or []),
    )


def gflops_per_megapixel(model: nn.Module, size: int = 512, inputs: int = 1) -> float:
    """Multiply-adds x 2 of the convolutions per megapixel of input, counted with hooks; a model
    of several image inputs (`inputs`, as the change model's two dates) gets them all."""
    total = [0]

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        assert isinstance(module, nn.Conv2d)
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total[0] += 2 * k * output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was = model.training
    model.eval()
    with torch.no_grad():
        model(*[torch.zeros(1, 3, size, size) for _ in range(inputs)])
    model.train(was)
    for h in handles:
        h.remove()
    return total[0] / (size * size) * 1e6 / 1e9
