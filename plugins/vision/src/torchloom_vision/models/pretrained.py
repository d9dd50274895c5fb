"""Pretrained weights: torchvision's published files, a local file, or a URL, loaded without pickles.

``pretrained=True`` downloads torchvision's file for the architecture through ``torch.hub`` (its
cache in ``torch.hub.get_dir()/checkpoints``, its progress bar and its hash check of the file name's
hash prefix) and reuses the cached copy afterwards. ``pretrained="path"`` loads a local ``.pth`` or
``.safetensors`` file; ``pretrained="https://..."`` (or ``file://``) goes through the same cache as
torchvision. When the file is neither cached nor downloadable the error names the file, the
folder to put it in and the URL to fetch it from. Files are read with ``weights_only=True``.
"""
from __future__ import annotations

import os
import urllib.error
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import torch
from torch import nn

__all__ = ["PretrainedWeightsUnavailable", "torchvision_weights_url", "pretrained_state_dict", "load_pretrained",
           "pretrained_file"]

_URL_SCHEMES = ("http", "https", "file", "ftp")


class PretrainedWeightsUnavailable(FileNotFoundError):
    """The weights file is not cached and could not be downloaded; the message says how to provide it."""


def _cache_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def torchvision_weights_url(name: str, weights: str | None = None) -> str:
    """The URL of torchvision's weights for model ``name`` (``weights``: an enum member name, default DEFAULT)."""
    import torchvision.models as tvm

    try:
        enum = tvm.get_model_weights(name)
    except ValueError:
        raise ValueError(f"torchvision has no pretrained weights for {name!r}; pass pretrained='/path/or/URL' of a "
                         "weights file") from None
    if weights is None:
        return enum.DEFAULT.url
    try:
        return enum[str(weights)].url
    except KeyError:
        raise ValueError(f"{name!r} has no torchvision weights {weights!r}; choose one of "
                         f"{', '.join(m.name for m in enum)}") from None


def _is_url(s: str) -> bool:
    return urlparse(s).scheme in _URL_SCHEMES


def _unwrap(sd: Any, source: str) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        raise ValueError(f"{source} does not hold a state dict (found {type(sd).__name__})")
    return sd


def _from_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return _unwrap(torch.load(path, map_location="cpu", weights_only=True), str(path))
    except Exception as e:
        if isinstance(e, ValueError) and str(path) in str(e):
            raise
        raise ValueError(f"cannot read pretrained weights {path}: {type(e).__name__}: {e} (only plain tensors "
                         "are loaded; weights_only=True)") from None


def _from_url(url: str, progress: bool) -> dict[str, torch.Tensor]:
    fname = os.path.basename(unquote(urlparse(url).path)) or "weights.pth"
    cached = _cache_dir() / fname
    try:
        sd = torch.hub.load_state_dict_from_url(url, model_dir=str(_cache_dir()), map_location="cpu",
                                                progress=progress, check_hash=True, weights_only=True)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
        if cached.is_file():  # downloaded, but unreadable
            raise
        cause = getattr(e, "reason", e)
        raise PretrainedWeightsUnavailable(
            f"pretrained weights {fname} are not in the torch hub cache and could not be downloaded from {url} "
            f"({cause}). Download {url} on a machine with network access and copy it to {cached} (the torch hub "
            f"cache, set by TORCH_HOME), or pass pretrained='/path/to/{fname}'; pretrained=False trains from "
            "scratch.") from None
    except RuntimeError as e:
        if "hash" in str(e):
            raise ValueError(f"the file downloaded from {url} failed torch hub's hash check (its name ends with "
                             f"the expected sha256 prefix): {e}. It was not kept in {cached.parent}.") from None
        raise
    return _unwrap(sd, url)


def pretrained_state_dict(name: str, pretrained: bool | str | os.PathLike = True, weights: str | None = None,
                          progress: bool = True) -> dict[str, torch.Tensor]:
    """The state dict ``pretrained`` designates for architecture ``name`` (see the module docstring).

    ``weights`` picks torchvision weights other than the default (``"IMAGENET1K_V1"``); a path there is
    read like ``pretrained="path"``.
    """
    if weights is not None and (Path(str(weights)).suffix in (".pth", ".pt", ".safetensors", ".bin")
                                or os.sep in str(weights) or Path(str(weights)).is_file()):
        pretrained, weights = weights, None
    if pretrained is True:
        return _from_url(torchvision_weights_url(name, weights), progress)
    if isinstance(pretrained, (str, os.PathLike)):
        s = os.fspath(pretrained)
        return _from_url(s, progress) if _is_url(s) else _from_file(Path(s))
    raise TypeError(f"pretrained must be True, a path or a URL, got {pretrained!r}")


def load_pretrained(model: nn.Module, name: str, pretrained: bool | str | os.PathLike = True,
                    weights: str | None = None, progress: bool = True) -> nn.Module:
    """Load the weights ``pretrained`` designates into ``model``; a mismatch names the source."""
    sd = pretrained_state_dict(name, pretrained, weights, progress)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        src = pretrained if pretrained is not True else torchvision_weights_url(name, weights)
        raise ValueError(f"the pretrained weights {src} do not fit {name!r}: {e}") from None
    return model


def pretrained_file(name: str, weights: str | Path | None = None) -> Path:
    """Where torchvision's weights for ``name`` are cached (an explicit ``weights`` path is returned as is)."""
    if weights is not None and Path(weights).is_file():
        return Path(weights)
    url = torchvision_weights_url(name, None if weights is None else str(weights))
    return _cache_dir() / os.path.basename(urlparse(url).path)
