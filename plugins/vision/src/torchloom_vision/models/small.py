"""``SmallResNet``: a compact residual network for small images (28-64 px) that trains in seconds on a CPU.

Built as a flat ``nn.Sequential`` ending in pooling + linear, so ``vision_learner`` cuts it like a torchvision
ResNet and adds its own head; ``unet_learner`` can use its body as an encoder.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .layers import ConvBnRelu, Flatten

__all__ = ["ResBlock", "SmallResNet"]


class ResBlock(nn.Module):
    """Two 3x3 conv layers with a shortcut (1x1 conv + pooling when the shape changes)."""

    def __init__(self, ni: int, nf: int, stride: int = 1) -> None:
        super().__init__()
        self.convs = nn.Sequential(ConvBnRelu(ni, nf, stride=stride), ConvBnRelu(nf, nf, act=False))
        idpath: list[nn.Module] = []
        if stride != 1:
            idpath.append(nn.AvgPool2d(stride, ceil_mode=True))
        if ni != nf:
            idpath.append(ConvBnRelu(ni, nf, ks=1, act=False))
        self.idpath = nn.Sequential(*idpath)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.convs(x) + self.idpath(x))


class SmallResNet(nn.Sequential):
    """Stem (stride 1), one residual block per width (each after the first halves the resolution), then
    average pooling and a linear classifier."""

    def __init__(self, n_in: int = 3, n_out: int = 1000, widths: Sequence[int] = (16, 32, 64)) -> None:
        layers: list[nn.Module] = [ConvBnRelu(n_in, widths[0])]
        ni = widths[0]
        for i, w in enumerate(widths):
            layers.append(ResBlock(ni, w, stride=1 if i == 0 else 2))
            ni = w
        layers += [nn.AdaptiveAvgPool2d(1), Flatten(), nn.Linear(ni, n_out)]
        super().__init__(*layers)
