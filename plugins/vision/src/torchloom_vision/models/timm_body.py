"""timm architectures as ``vision_learner`` bodies: ``vision_learner(dls, "timm/resnet10t")``.

An optional extra (``pip install 'torchloom-vision[timm]'``): timm is imported only for a ``timm/``
name. The body is the network's ``forward_features`` (its classifier and pooling dropped; ``in_chans``
adapts the stem, pretrained weights included), so the head, the body/head split, ``freeze`` and
``fine_tune`` are the same as for torchvision models. Convolutional models (NCHW features) only.
Names come from timm's own registry, never imported from a file.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from torch import Tensor, nn

__all__ = ["TIMM_PREFIX", "is_timm_arch", "TimmBody", "create_timm_body"]

TIMM_PREFIX = "timm/"


def is_timm_arch(arch: Any) -> bool:
    return isinstance(arch, str) and arch.startswith(TIMM_PREFIX)


class TimmBody(nn.Module):
    """A timm model's feature extractor (``forward_features``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model.forward_features(x)
        if out.ndim != 4:
            raise ValueError(f"{type(self.model).__name__} gives {out.ndim}-d features; vision_learner's head needs "
                             "a convolutional (NCHW) body")
        return out


def _pretrained_kwargs(pretrained: bool | str | os.PathLike) -> dict[str, Any]:
    if pretrained is False or pretrained is None:
        return {}
    if pretrained is True:  # timm's published weights, through its own (Hugging Face hub) cache
        return {"pretrained": True}
    s = os.fspath(pretrained)
    key = "url" if urlparse(s).scheme in ("http", "https", "file") else "file"
    if key == "file" and not Path(s).is_file():
        raise FileNotFoundError(f"pretrained weights file {s} does not exist")
    return {"pretrained": True, "pretrained_cfg_overlay": {key: s}}


def create_timm_body(arch: str, n_in: int = 3, pretrained: bool | str | os.PathLike = False) -> TimmBody:
    """The body of timm model ``arch`` (``"timm/<name>"``) for ``n_in`` input channels."""
    try:
        import timm
    except ImportError:
        raise ImportError(f"architecture {arch!r} needs timm: pip install 'torchloom-vision[timm]'") from None
    name = arch[len(TIMM_PREFIX):]
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        raise ValueError(f"unknown timm architecture {name!r}" + (f" (did you mean {', '.join(close)}?)" if close
                                                                 else ""))
    model = timm.create_model(name, num_classes=0, global_pool="", in_chans=n_in, **_pretrained_kwargs(pretrained))
    return TimmBody(model)
