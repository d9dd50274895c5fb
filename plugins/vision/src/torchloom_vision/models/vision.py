"""Classifier = body (a torchvision network cut before its pooling) + fastai's head, split for fine-tuning.

Architectures come by name from ``torchvision.models`` (``"resnet18"``, ``"convnext_tiny"``...), as a
builder/class, or as a module. Pretrained weights: see ``pretrained.py`` (torchvision's files through the
torch hub cache, a local file or a URL).
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchloom import Allow, Rule, import_target, model_factory

from .layers import AdaptiveConcatPool2d, Flatten, LinBnDrop
from .pretrained import load_pretrained, pretrained_file
from .timm_body import create_timm_body, is_timm_arch

__all__ = ["model_meta", "resolve_arch", "create_body", "create_head", "create_vision_model", "vision_splitter",
           "num_features", "adapt_first_conv", "pretrained_file", "load_pretrained"]

# family prefix -> how to cut the torchvision model into a body (index into children, or attribute name)
model_meta: dict[str, dict[str, Any]] = {
    "resnet": {"cut": -2}, "resnext": {"cut": -2}, "wide_resnet": {"cut": -2}, "regnet": {"cut": -2},
    "convnext": {"cut": "features"}, "efficientnet": {"cut": "features"}, "mobilenet": {"cut": "features"},
    "densenet": {"cut": "features"}, "vgg": {"cut": "features"}, "alexnet": {"cut": "features"},
    "squeezenet": {"cut": "features"}, "mnasnet": {"cut": "layers"}, "shufflenet": {"cut": -1},
}


def _is_torchvision_builder(fn: Any) -> bool:
    """A builder in torchvision's own model registry (``torchvision.models.list_models``)."""
    import torchvision.models as tvm

    name = getattr(fn, "__name__", None)
    return isinstance(name, str) and name in tvm.list_models() and tvm.get_model_builder(name) is fn


# what an ``arch`` named "module:Name" may be: the kernel's model rules plus torchvision's registered builders
ARCH = Allow("architecture", Allow.MODEL.rules + (Rule("a torchvision model builder", _is_torchvision_builder),))


def _meta(name: str) -> dict[str, Any]:
    for prefix, meta in sorted(model_meta.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(prefix):
            return meta
    return {}


def resolve_arch(arch: str | Callable[..., nn.Module]) -> tuple[Callable[..., nn.Module], str]:
    """A builder and a name for ``arch``: a torchvision model name, ``"module:attr"``, a class or a builder."""
    if isinstance(arch, str):
        if ":" in arch:
            import torchvision.models  # noqa: F401  (its builders may be named; the module is imported, not the file's)

            return import_target(arch, ARCH, field="arch"), arch
        import torchvision.models as tvm

        try:
            return tvm.get_model_builder(arch), arch
        except ValueError:
            close = difflib.get_close_matches(arch.lower(), tvm.list_models(), n=5, cutoff=0.6)
            raise ValueError(f"unknown architecture {arch!r}: not a torchvision model name"
                             + (f" (did you mean {', '.join(close)}?)" if close else "")) from None
    if callable(arch):
        return arch, f"{arch.__module__}:{arch.__qualname__}"
    raise TypeError(f"arch must be a torchvision model name, an nn.Module or a builder, not {type(arch).__name__}")


def _build(fn: Callable[..., nn.Module]) -> nn.Module:
    if getattr(fn, "__module__", "").startswith("torchvision.models"):
        return fn(weights=None)
    return fn()


def _cut_model(model: nn.Module, cut: int | str | Callable | None, name: str) -> nn.Module:
    if cut is None:
        cut = _meta(name).get("cut")
    if cut is None:  # fastai's rule: up to the last child that contains a pooling layer
        children = list(model.children())
        pools = [i for i, c in enumerate(children) if any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
                                                         for m in c.modules())]
        if not pools:
            raise ValueError(f"cannot find where to cut {name}: no pooling child; pass cut=<index or attribute>")
        cut = pools[-1]
    if isinstance(cut, str):
        return getattr(model, cut)
    if isinstance(cut, int):
        return nn.Sequential(*list(model.children())[:cut])
    if callable(cut):
        return cut(model)
    raise TypeError(f"cut must be an int, an attribute name or a callable, not {type(cut).__name__}")


def adapt_first_conv(body: nn.Module, n_in: int, pretrained: bool = False) -> nn.Module:
    """Replace the first Conv2d so it takes ``n_in`` channels (pretrained RGB weights averaged for 1 channel)."""
    for parent in body.modules():
        for cname, conv in parent.named_children():
            if isinstance(conv, nn.Conv2d):
                if conv.in_channels == n_in:
                    return body
                new = nn.Conv2d(n_in, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                                conv.groups if conv.groups == 1 else n_in, conv.bias is not None, conv.padding_mode)
                if pretrained:
                    w = conv.weight.data
                    with torch.no_grad():
                        if n_in == 1:
                            new.weight.copy_(w.mean(1, keepdim=True))
                        elif n_in == 2:
                            new.weight.copy_(w[:, :2] * 1.5)
                        else:
                            new.weight.zero_()
                            new.weight[:, :min(n_in, w.shape[1])] = w[:, :min(n_in, w.shape[1])]
                        if conv.bias is not None:
                            new.bias.copy_(conv.bias)
                setattr(parent, cname, new)
                return body
    raise ValueError("cannot adapt n_in: the body has no Conv2d layer")


def create_body(arch: Any, n_in: int = 3, pretrained: bool | str | Path = False, cut: Any = None,
                weights: str | Path | None = None) -> nn.Module:
    """The network ``arch`` without its pooling and classifier, adapted to ``n_in`` input channels.

    ``pretrained``: ``True`` for torchvision's weights (downloaded once into the torch hub cache), or a
    path / URL of a weights file. ``"timm/<name>"`` architectures come from timm (optional extra)."""
    if is_timm_arch(arch):
        return create_timm_body(arch, n_in=n_in, pretrained=pretrained)
    if isinstance(arch, nn.Module):
        model, name = arch, type(arch).__name__.lower()
        if pretrained:
            raise ValueError("pretrained=True needs an architecture name, not a module instance")
    else:
        fn, name = resolve_arch(arch)
        model = _build(fn)
        if pretrained is not False and pretrained is not None:
            load_pretrained(model, name, pretrained, weights)
    body = _cut_model(model, cut, name.rpartition(":")[2].lower())
    return adapt_first_conv(body, n_in, pretrained) if n_in != 3 else body


def num_features(body: nn.Module, n_in: int = 3, size: int = 64) -> int:
    """Channels of the body's output, found by a dummy forward pass in eval mode."""
    was = body.training
    body.eval()
    with torch.no_grad():
        out = body(torch.zeros(1, n_in, size, size))
    body.train(was)
    return out.shape[1]


def create_head(nf: int, n_out: int, lin_ftrs: list[int] | None = None, ps: float | list[float] = 0.5,
                concat_pool: bool = True, first_bn: bool = True, bn_final: bool = False,
                y_range: tuple[float, float] | None = None) -> nn.Sequential:
    """fastai's head: concat pooling, flatten, then BatchNorm/Dropout/Linear blocks (ReLU between)."""
    nf = nf * 2 if concat_pool else nf
    lin = [nf] + (list(lin_ftrs) if lin_ftrs is not None else [512]) + [n_out]
    if isinstance(ps, (list, tuple)):
        pss = list(ps)
    else:
        pss = [ps / 2] * (len(lin) - 2) + [ps]
    if len(pss) != len(lin) - 1:
        raise ValueError(f"ps has {len(pss)} values for {len(lin) - 1} linear layers")
    layers: list[nn.Module] = [AdaptiveConcatPool2d() if concat_pool else nn.AdaptiveAvgPool2d(1), Flatten()]
    bns = [first_bn] + [True] * (len(lin) - 2)
    for i, (ni, no, p, bn) in enumerate(zip(lin[:-1], lin[1:], pss, bns)):
        act = nn.ReLU(inplace=True) if i < len(lin) - 2 else None
        layers.append(LinBnDrop(ni, no, bn=bn, p=p, act=act))
    if bn_final:
        layers.append(nn.BatchNorm1d(lin[-1], momentum=0.01))
    if y_range is not None:
        layers.append(_SigmoidRange(*y_range))
    return nn.Sequential(*layers)


class _SigmoidRange(nn.Module):
    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.hi - self.lo) + self.lo


def _init_head(head: nn.Module) -> None:
    for m in head.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@model_factory
def create_vision_model(arch: Any, n_out: int, n_in: int = 3, pretrained: bool | str = False,
                        weights: str | None = None, cut: int | str | None = None, concat_pool: bool = True,
                        lin_ftrs: list[int] | None = None, ps: float = 0.5, first_bn: bool = True,
                        bn_final: bool = False, y_range: tuple[float, float] | None = None) -> nn.Sequential:
    """``nn.Sequential(body, head)`` for ``arch``; also the factory ``load_learner`` calls to rebuild it."""
    if n_out is None or n_out < 1:
        raise ValueError(f"n_out must be a positive number of outputs, got {n_out!r}")
    body = create_body(arch, n_in=n_in, pretrained=pretrained, cut=cut, weights=weights)
    head = create_head(num_features(body, n_in), n_out, lin_ftrs, ps, concat_pool, first_bn, bn_final, y_range)
    _init_head(head)
    return nn.Sequential(body, head)


def vision_splitter(model: nn.Module) -> list[list[nn.Parameter]]:
    """Two parameter groups, body then head: ``freeze()`` trains only the head."""
    return [list(model[0].parameters()), list(model[1].parameters())]
