"""Small layers of fastai's vision head."""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AdaptiveConcatPool2d", "Flatten", "LinBnDrop", "ConvBnRelu"]


class AdaptiveConcatPool2d(nn.Module):
    """Max- and average-pool to ``size`` and concatenate them (2x the channels): keeps both peak and mean."""

    def __init__(self, size: int = 1) -> None:
        super().__init__()
        self.size = size
        self.mp, self.ap = nn.AdaptiveMaxPool2d(size), nn.AdaptiveAvgPool2d(size)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.mp(x), self.ap(x)], 1)


class Flatten(nn.Module):
    """Flatten all but the batch dimension (a plain ``Tensor`` op: compile- and subclass-friendly)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class LinBnDrop(nn.Sequential):
    """BatchNorm1d, Dropout, Linear and an optional activation (fastai's head block)."""

    def __init__(self, n_in: int, n_out: int, bn: bool = True, p: float = 0.0, act: nn.Module | None = None) -> None:
        layers: list[nn.Module] = [nn.BatchNorm1d(n_in)] if bn else []
        if p != 0:
            layers.append(nn.Dropout(p))
        layers.append(nn.Linear(n_in, n_out, bias=not bn))
        if act is not None:
            layers.append(act)
        super().__init__(*layers)


class ConvBnRelu(nn.Sequential):
    """3x3 (or ``ks``) convolution, BatchNorm2d, ReLU."""

    def __init__(self, ni: int, nf: int, ks: int = 3, stride: int = 1, act: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(ni, nf, ks, stride=stride, padding=ks // 2, bias=False),
                                   nn.BatchNorm2d(nf)]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)
