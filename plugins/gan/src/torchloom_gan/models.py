"""GAN models with fastai's layouts: a DCGAN generator and critic, and a spectral-norm critic.

Each conv block is an ``nn.Sequential(conv, norm, activation)`` like fastai's ``ConvLayer``, so the
parameter names (``"1.0.weight"``...) match fastai's models and weights can be compared one to one.
The factories are marked with ``@model_factory``: ``load_learner`` may rebuild them from a file.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from torchloom import model_factory

__all__ = ["AddChannels", "DenseResBlock", "SelfAttention", "basic_critic", "basic_generator", "conv_layer",
           "gan_critic"]


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _init_conv(conv: nn.Module) -> nn.Module:
    nn.init.kaiming_normal_(conv.weight)
    if getattr(conv, "bias", None) is not None:
        nn.init.zeros_(conv.bias)
    return conv


def conv_layer(ni: int, nf: int, ks: int = 3, stride: int = 1, padding: int | None = None, transpose: bool = False,
               norm: str | None = "batch", act_cls: Callable[[], nn.Module] | None = nn.ReLU,
               bias: bool | None = None) -> nn.Sequential:
    """Conv (or transposed conv) -> norm -> activation, initialised like fastai's ``ConvLayer``.

    ``norm`` is ``"batch"``, ``"spectral"`` (spectral normalisation of the conv weight) or None.
    """
    if norm not in ("batch", "spectral", None):
        raise ValueError(f"conv_layer: norm must be 'batch', 'spectral' or None, got {norm!r}")
    if padding is None:
        padding = 0 if transpose else (ks - 1) // 2
    if bias is None:
        bias = norm != "batch"
    conv_cls = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = _init_conv(conv_cls(ni, nf, ks, stride=stride, padding=padding, bias=bias))
    if norm == "spectral":
        conv = nn.utils.spectral_norm(conv)
    layers: list[nn.Module] = [conv]
    if norm == "batch":
        bn = nn.BatchNorm2d(nf)
        nn.init.ones_(bn.weight)
        nn.init.constant_(bn.bias, 1e-3)
        layers.append(bn)
    if act_cls is not None:
        layers.append(act_cls())
    return nn.Sequential(*layers)


class AddChannels(nn.Module):
    """Append ``n_dim`` size-1 dimensions: a noise vector ``(bs, n)`` becomes ``(bs, n, 1, 1)``."""

    def __init__(self, n_dim: int) -> None:
        super().__init__()
        self.n_dim = n_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.view(*x.shape, *([1] * self.n_dim))


@model_factory
def basic_generator(out_size: int, n_channels: int, in_sz: int = 100, n_features: int = 64,
                    n_extra_layers: int = 0, act_cls: Callable[[], nn.Module] | None = nn.ReLU) -> nn.Sequential:
    """DCGAN generator from a noise vector of ``in_sz`` to ``n_channels`` x ``out_size`` x ``out_size`` images
    in [-1, 1] (tanh). ``out_size`` must be a power of two >= 8 (pad 28x28 images to 32)."""
    if out_size < 8 or out_size & (out_size - 1):
        raise ValueError(f"basic_generator: out_size must be a power of two >= 8, got {out_size}")
    cur_size, cur_ftrs = 4, n_features // 2
    while cur_size < out_size:
        cur_size *= 2
        cur_ftrs *= 2
    layers: list[nn.Module] = [AddChannels(2), conv_layer(in_sz, cur_ftrs, 4, 1, transpose=True, act_cls=act_cls)]
    cur_size = 4
    while cur_size < out_size // 2:
        layers.append(conv_layer(cur_ftrs, cur_ftrs // 2, 4, 2, 1, transpose=True, act_cls=act_cls))
        cur_ftrs //= 2
        cur_size *= 2
    layers += [conv_layer(cur_ftrs, cur_ftrs, 3, 1, 1, transpose=True, act_cls=act_cls)
               for _ in range(n_extra_layers)]
    layers += [nn.ConvTranspose2d(cur_ftrs, n_channels, 4, 2, 1, bias=False), nn.Tanh()]
    model = nn.Sequential(*layers)
    if act_cls is nn.ReLU:  # how to rebuild it (GANLearner.export -> load_learner)
        model.model_spec = {"factory": "torchloom_gan.models:basic_generator",
                            "kwargs": {"out_size": out_size, "n_channels": n_channels, "in_sz": in_sz,
                                       "n_features": n_features, "n_extra_layers": n_extra_layers}}
    return model


@model_factory
def basic_critic(in_size: int, n_channels: int, n_features: int = 64, n_extra_layers: int = 0,
                 norm: str | None = "batch", act_cls: Callable[[], nn.Module] | None = _leaky) -> nn.Sequential:
    """DCGAN critic for ``n_channels`` x ``in_size`` x ``in_size`` images: one raw score per image ``(bs, 1)``.

    ``norm="spectral"`` gives the spectrally normalised variant (no batch norm), a common way to keep
    the critic 1-Lipschitz without weight clipping."""
    if in_size < 8 or in_size & (in_size - 1):
        raise ValueError(f"basic_critic: in_size must be a power of two >= 8, got {in_size}")
    layers: list[nn.Module] = [conv_layer(n_channels, n_features, 4, 2, 1, norm=None if norm == "batch" else norm,
                                          act_cls=act_cls)]
    cur_size, cur_ftrs = in_size // 2, n_features
    layers += [conv_layer(cur_ftrs, cur_ftrs, 3, 1, norm=norm, act_cls=act_cls) for _ in range(n_extra_layers)]
    while cur_size > 4:
        layers.append(conv_layer(cur_ftrs, cur_ftrs * 2, 4, 2, 1, norm=norm, act_cls=act_cls))
        cur_ftrs *= 2
        cur_size //= 2
    final = _init_conv(nn.Conv2d(cur_ftrs, 1, 4, padding=0))
    if norm == "spectral":
        final = nn.utils.spectral_norm(final)
    layers += [final, nn.Flatten()]
    return nn.Sequential(*layers)


class SelfAttention(nn.Module):
    """Self-attention over the pixels of a feature map (SAGAN), starting as the identity (``gamma = 0``)."""

    def __init__(self, n_channels: int) -> None:
        super().__init__()
        self.query = nn.utils.spectral_norm(nn.Conv1d(n_channels, max(n_channels // 8, 1), 1, bias=False))
        self.key = nn.utils.spectral_norm(nn.Conv1d(n_channels, max(n_channels // 8, 1), 1, bias=False))
        self.value = nn.utils.spectral_norm(nn.Conv1d(n_channels, n_channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.tensor([0.0]))

    def forward(self, x: Tensor) -> Tensor:
        size = x.size()
        x = x.view(*size[:2], -1)
        f, g, h = self.query(x), self.key(x), self.value(x)
        beta = torch.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        o = self.gamma * torch.bmm(h, beta) + x
        return o.view(*size).contiguous()


class DenseResBlock(nn.Module):
    """Two spectral-norm convs whose output is concatenated to the input (doubles the channels)."""

    def __init__(self, nf: int, norm: str | None = "spectral") -> None:
        super().__init__()
        self.convs = nn.Sequential(conv_layer(nf, nf, norm=norm, act_cls=_leaky),
                                   conv_layer(nf, nf, norm=norm, act_cls=_leaky))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.convs(x)], dim=1)


@model_factory
def gan_critic(n_channels: int = 3, nf: int = 128, n_blocks: int = 3, p: float = 0.15) -> nn.Sequential:
    """fastai's spectral-norm critic: a dense residual block, self-attention, dropout, stride-2 convs.

    The input side must be ``2 ** (n_blocks + 3)`` (64 for the default; ``n_blocks=2`` for 32x32 images)."""
    sn: dict[str, Any] = {"norm": "spectral", "act_cls": _leaky}
    layers: list[nn.Module] = [conv_layer(n_channels, nf, 4, 2, 1, **sn), nn.Dropout2d(p / 2), DenseResBlock(nf)]
    nf *= 2
    for i in range(n_blocks):
        layers += [nn.Dropout2d(p), conv_layer(nf, nf * 2, 4, 2, 1, **sn)]
        if i == 0:
            layers.append(SelfAttention(nf * 2))
        nf *= 2
    layers += [conv_layer(nf, 1, 4, 1, 0, norm="spectral", act_cls=None, bias=False), nn.Flatten()]
    return nn.Sequential(*layers)
