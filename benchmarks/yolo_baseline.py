"""A YOLOv8-style baseline of similar compute to the sitewatch detector, for timing only.

The architecture follows Ultralytics YOLOv8 (Conv-BN-SiLU, C2f blocks, SPPF, a PAN neck and a
decoupled head at strides 8, 16 and 32), with the box branch regressing distances directly (no
DFL) and the decode to (cx, cy, w, h) in input pixels inside the graph, like an Ultralytics
export: the output is (1, 4 + 5, anchors). Widths are scaled so its GFLOPs per megapixel are
close to the sitewatch model's. Weights are random (class biases set low, so decoding sees a
realistic handful of candidates): this model measures speed, not accuracy.

    .venv/bin/python benchmarks/yolo_baseline.py OUT_DIR [--input 1024]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from torch import nn

NC = 5


class Conv(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 1, s: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU()
        )


class Bottleneck(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x))


class C2f(nn.Module):
    def __init__(self, cin: int, cout: int, n: int = 1) -> None:
        super().__init__()
        self.c = cout // 2
        self.cv1 = Conv(cin, 2 * self.c)
        self.m = nn.ModuleList(Bottleneck(self.c) for _ in range(n))
        self.cv2 = Conv((2 + n) * self.c, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c // 2), Conv(c * 2, c)
        self.pool = nn.MaxPool2d(5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.cv1(x)
        b = self.pool(a)
        c = self.pool(b)
        return self.cv2(torch.cat([a, b, c, self.pool(c)], 1))


class YoloBaseline(nn.Module):
    def __init__(
        self, w: tuple[int, int, int, int, int] = (12, 24, 48, 80, 128), size: int = 1024
    ) -> None:
        super().__init__()
        self.size = size
        self.stem = nn.Sequential(Conv(3, w[0], 3, 2), Conv(w[0], w[1], 3, 2), C2f(w[1], w[1]))
        self.p3 = nn.Sequential(Conv(w[1], w[2], 3, 2), C2f(w[2], w[2], 2))
        self.p4 = nn.Sequential(Conv(w[2], w[3], 3, 2), C2f(w[3], w[3], 2))
        self.p5 = nn.Sequential(Conv(w[3], w[4], 3, 2), C2f(w[4], w[4]), SPPF(w[4]))
        self.up = nn.Upsample(scale_factor=2.0)
        self.n4 = C2f(w[4] + w[3], w[3])
        self.n3 = C2f(w[3] + w[2], w[2])
        self.d3 = Conv(w[2], w[2], 3, 2)
        self.o4 = C2f(w[2] + w[3], w[3])
        self.d4 = Conv(w[3], w[3], 3, 2)
        self.o5 = C2f(w[3] + w[4], w[4])
        hb = max(16, w[2] // 2)
        self.box = nn.ModuleList(
            nn.Sequential(Conv(c, hb, 3), Conv(hb, hb, 3), nn.Conv2d(hb, 4, 1))
            for c in (w[2], w[3], w[4])
        )
        self.cls = nn.ModuleList(
            nn.Sequential(Conv(c, hb, 3), Conv(hb, hb, 3), nn.Conv2d(hb, NC, 1))
            for c in (w[2], w[3], w[4])
        )
        for head in self.cls:
            nn.init.constant_(head[-1].bias, -8.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        p3 = self.p3(x)
        p4 = self.p4(p3)
        p5 = self.p5(p4)
        n4 = self.n4(torch.cat([self.up(p5), p4], 1))
        n3 = self.n3(torch.cat([self.up(n4), p3], 1))
        o4 = self.o4(torch.cat([self.d3(n3), n4], 1))
        o5 = self.o5(torch.cat([self.d4(o4), p5], 1))
        outs = []
        for feat, stride, box, cls in zip(
            (n3, o4, o5), (8, 16, 32), self.box, self.cls, strict=True
        ):
            n, _, h, w = feat.shape
            ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
            gx = (xs.float() + 0.5).reshape(1, 1, -1)
            gy = (ys.float() + 0.5).reshape(1, 1, -1)
            d = torch.exp(box(feat).clamp(-4, 4)).reshape(n, 4, -1)
            x0, y0 = gx - d[:, 0:1], gy - d[:, 1:2]
            x1, y1 = gx + d[:, 2:3], gy + d[:, 3:4]
            xywh = torch.cat([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], 1) * stride
            outs.append(torch.cat([xywh, torch.sigmoid(cls(feat).reshape(n, NC, -1))], 1))
        return torch.cat(outs, 2)


def gflops_per_mp(model: nn.Module, size: int = 512) -> float:
    total = [0]

    def hook(m: nn.Module, _i: object, out: torch.Tensor) -> None:
        assert isinstance(m, nn.Conv2d)
        total[0] += (
            2 * m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups * out.numel()
        )

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return total[0] / (size * size) / 1e3


def build(out_dir: Path, size: int = 1024) -> Path:
    torch.manual_seed(0)
    model = YoloBaseline(size=size).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "yolo-baseline.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, size, size),),
            str(onnx_path),
            input_names=["images"],
            output_names=["output0"],
            opset_version=17,
            dynamo=False,
        )
    reg = out_dir / "yolo-baseline.yaml"
    reg.write_text(
        f"model: {onnx_path.name}\nlayout: yolo-detect\ninput_px: {size}\ngsd_m: [0.25, 0.6]\n"
        f"num_classes: {NC}\nclasses: {{0: small_vehicle, 1: large_vehicle, 2: rail_car, "
        "3: crane, 4: container}\nmodel_id: yolov8-style-baseline-random-weights\n"
    )
    print(f"{onnx_path}: {gflops_per_mp(model):.2f} GFLOPs per megapixel")
    return reg


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--input", type=int, default=1024)
    args = ap.parse_args()
    build(args.out, args.input)
