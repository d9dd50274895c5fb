"""Dynamic U-Net: a decoder sized by probing the encoder's feature maps, with skip connections at each resolution.

Forward hooks record every encoder child's output on a dummy input of the training image size; the children
where the resolution drops give the skip connections, and their channel counts size the decoder blocks. At run
time the encoder is split into stages at those children (no hooks left on the model, so it is
``torch.compile``-, ``deepcopy``- and export-friendly).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from torchloom import model_factory

from .layers import ConvBnRelu
from .vision import create_body

__all__ = ["DynamicUnet", "UnetBlock", "create_unet_model", "unet_splitter", "probe_sizes"]


def probe_sizes(encoder: nn.Sequential, n_in: int, img_size: tuple[int, int]) -> list[torch.Size]:
    """Output shape of each child of ``encoder`` for a dummy (1, n_in, *img_size) input (via forward hooks)."""
    shapes: list[torch.Size] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: shapes.append(out.shape)) for m in encoder.children()]
    was = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            encoder(torch.zeros(1, n_in, *img_size))
    finally:
        for h in hooks:
            h.remove()
        encoder.train(was)
    return shapes


class UnetBlock(nn.Module):
    """Upsample 2x, concatenate the (batch-normed) skip connection, two 3x3 conv layers."""

    def __init__(self, up_in_c: int, x_in_c: int, nf: int | None = None) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.Conv2d(up_in_c, (up_in_c // 2) * 4, 1), nn.PixelShuffle(2), nn.ReLU(inplace=True))
        self.bn = nn.BatchNorm2d(x_in_c)
        ni = up_in_c // 2 + x_in_c
        nf = nf or max(ni // 2, 16)
        self.conv1, self.conv2 = ConvBnRelu(ni, nf), ConvBnRelu(nf, nf)

    def forward(self, up_in: Tensor, s: Tensor) -> Tensor:
        up = self.up(up_in)
        if up.shape[-2:] != s.shape[-2:]:
            up = F.interpolate(up, s.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(torch.cat([up, F.relu(self.bn(s))], 1)))


class DynamicUnet(nn.Module):
    """U-Net on any Sequential ``encoder`` whose children reduce resolution; output is (N, n_out, *img_size)."""

    def __init__(self, encoder: nn.Sequential, n_out: int, img_size: tuple[int, int], n_in: int = 3,
                 last_cross: bool = True) -> None:
        super().__init__()
        shapes = probe_sizes(encoder, n_in, img_size)
        children = list(encoder.children())
        idxs = [i for i in range(len(shapes) - 1) if shapes[i][-2:] != shapes[i + 1][-2:]]
        bounds = [-1, *idxs, len(children) - 1]
        self.stages = nn.ModuleList(nn.Sequential(*children[a + 1:b + 1]) for a, b in zip(bounds[:-1], bounds[1:]))
        skip_c = [shapes[i][1] for i in idxs]
        ni = shapes[-1][1]
        self.middle = nn.Sequential(nn.BatchNorm2d(ni), nn.ReLU(inplace=True), ConvBnRelu(ni, ni * 2),
                                    ConvBnRelu(ni * 2, ni))
        blocks = []
        for c in reversed(skip_c):
            blocks.append(UnetBlock(ni, c))
            ni = blocks[-1].conv2[0].out_channels
        self.blocks = nn.ModuleList(blocks)
        self.img_size = tuple(img_size)
        self.last_cross = last_cross
        nf = ni + n_in if last_cross else ni
        self.final = nn.Sequential(ConvBnRelu(nf, max(nf // 2, 16)), nn.Conv2d(max(nf // 2, 16), n_out, 1))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        h = x
        for stage in self.stages:
            h = stage(h)
            skips.append(h)
        h = self.middle(skips.pop())
        for block in self.blocks:
            h = block(h, skips.pop())
        if h.shape[-2:] != x.shape[-2:]:
            h = F.interpolate(h, x.shape[-2:], mode="bilinear", align_corners=False)
        if self.last_cross:
            h = torch.cat([h, x], 1)
        return self.final(h)


@model_factory
def create_unet_model(arch: Any, n_out: int, img_size: tuple[int, int], n_in: int = 3, pretrained: bool | str = False,
                      weights: str | None = None, cut: int | str | None = None, last_cross: bool = True) -> DynamicUnet:
    """A ``DynamicUnet`` on the body of ``arch``; also the factory ``load_learner`` calls to rebuild it."""
    encoder = create_body(arch, n_in=n_in, pretrained=pretrained, cut=cut, weights=weights)
    if not isinstance(encoder, nn.Sequential):
        encoder = nn.Sequential(*encoder.children())
    return DynamicUnet(encoder, n_out, tuple(img_size), n_in=n_in, last_cross=last_cross)


def unet_splitter(model: DynamicUnet) -> list[list[nn.Parameter]]:
    """Encoder, then decoder: ``freeze()`` trains only the decoder."""
    enc = [p for s in model.stages for p in s.parameters()]
    ids = {id(p) for p in enc}
    return [enc, [p for p in model.parameters() if id(p) not in ids]]
