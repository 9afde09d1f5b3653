"""The sitewatch change model: a small siamese encoder-decoder in pure torch.

Both dates go through one shared encoder (3x3 conv-BN-ReLU stages at strides 2, 4, 8 and 16).
At every stride the two feature maps are fused as (|a - b|, a + b) -> conv, so the fusion is
symmetric in the dates (appeared and disappeared buildings are both change). A decoder with
nearest upsampling and lateral connections returns to stride 2; the change logits are
interpolated bilinearly to full resolution. An auxiliary head predicts buildings on each date at
stride 8 from the encoder alone (training only: it teaches the encoder what a building is).

Each input is standardised per image and per band inside the graph ((x - mean) / std over the
tile), so global illumination, exposure and sensor gain differences are removed where inference
sees them too. The exported graph takes float32 pixels 0-255, `before` and `after` (N, 3, H, W)
with H and W multiples of 16, and returns `change`, the change probability (N, 1, H, W).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from sitewatch.train.model import ConvBNReLU


def standardise(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std per image and band over the spatial axes."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).add(1.0).sqrt()
    return (x - mean) / std


class ChangeNet(nn.Module):
    """Siamese change network (see module docstring)."""

    def __init__(self, widths: tuple[int, int, int, int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        w1, w2, w3, w4 = widths
        self.enc = nn.ModuleList(
            [
                nn.Sequential(ConvBNReLU(3, w1, 2), ConvBNReLU(w1, w1)),
                nn.Sequential(ConvBNReLU(w1, w2, 2), ConvBNReLU(w2, w2)),
                nn.Sequential(ConvBNReLU(w2, w3, 2), ConvBNReLU(w3, w3), ConvBNReLU(w3, w3)),
                nn.Sequential(ConvBNReLU(w3, w4, 2), ConvBNReLU(w4, w4), ConvBNReLU(w4, w4)),
            ]
        )
        self.fuse = nn.ModuleList([ConvBNReLU(2 * w, w) for w in widths])
        self.lat = nn.ModuleList(
            [nn.Conv2d(widths[i + 1], widths[i], 1) for i in range(len(widths) - 1)]
        )
        self.dec = nn.ModuleList([ConvBNReLU(w, w) for w in widths[:-1]])
        self.head = nn.Conv2d(w1, 1, 1)
        self.building = nn.Conv2d(w3, 1, 1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        h = standardise(x)
        for stage in self.enc:
            h = stage(h)
            feats.append(h)
        return feats

    def forward_train(
        self, before: torch.Tensor, after: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(change logits at full resolution, building logits of before and after at stride 8)."""
        fa, fb = self.encode(before), self.encode(after)
        fused = [
            f(torch.cat([(a - b).abs(), a + b], 1))
            for f, a, b in zip(self.fuse, fa, fb, strict=True)
        ]
        d = fused[-1]
        for i in range(len(fused) - 2, -1, -1):
            up = functional.interpolate(self.lat[i](d), scale_factor=2.0, mode="nearest")
            d = self.dec[i](up + fused[i])
        logits = functional.interpolate(
            self.head(d), scale_factor=2.0, mode="bilinear", align_corners=False
        )
        return logits, self.building(fa[2]), self.building(fb[2])

    def forward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """The change probability (N, 1, H, W)."""
        return torch.sigmoid(self.forward_train(before, after)[0])
