"""``vision_learner`` (classification) and ``unet_learner`` (segmentation): a model for the data + a ``Learner``.

Both record ``learn.model_spec`` (a ``@model_factory`` and its JSON kwargs) so ``load_learner`` rebuilds the
model from the exported file, and both split parameters into body/head so ``freeze``/``fine_tune`` work.
Models are put in ``channels_last`` memory format by default (measured faster for convolutions on CPU and
GPU; see bench/bench_vision.py); pass ``channels_last=False`` to keep the default layout.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchloom import CrossEntropyLossFlat, Learner

from .core import imagenet_stats
from .models.unet import create_unet_model, unet_splitter
from .models.vision import create_vision_model, resolve_arch, vision_splitter
from .transforms import AddMaskCodes, Normalize

__all__ = ["vision_learner", "unet_learner", "cnn_learner"]


def _infer_n_in(dls: Any) -> int:
    """Input channels: from the image class of the input block when known, else from one batch."""
    try:
        for t in dls.train_ds.tls[0].tfms.fs:
            name = getattr(t, "img_cls", None)
            if name is not None:
                return 1 if name in ("PILImageBW", "PILMask") else 3
    except (AttributeError, IndexError):
        pass
    return int(dls.one_batch()[0].shape[1])


def _arch_spec(arch: Any) -> str | None:
    """A JSON-able name for ``arch`` (None for a module instance, which cannot be rebuilt by name)."""
    if isinstance(arch, str):
        return arch
    if isinstance(arch, nn.Module):
        return None
    return resolve_arch(arch)[1]


def _add_norm(dls: Any, n_in: int) -> None:
    """fastai's rule: pretrained weights expect their training statistics, so add ``Normalize`` if missing."""
    for dl in (dls.train, dls.valid):
        if any(isinstance(t, Normalize) for t in dl.after_batch.fs):
            continue
        mean, std = imagenet_stats
        if n_in == 1:
            mean, std = [sum(mean) / 3], [sum(std) / 3]
        dl.after_batch.add([Normalize(mean, std)])
        if dl.device is not None:
            dl.after_batch.to(dl.device)


def _finish(learn: Learner, pretrained: bool | str, channels_last: bool) -> Learner:
    if channels_last:
        learn.model.to(memory_format=torch.channels_last)
    if pretrained:
        learn.freeze()
    return learn


def vision_learner(dls: Any, arch: str | Callable[..., nn.Module] | nn.Module, n_out: int | None = None,
                   n_in: int | None = None, pretrained: bool | str = False, weights: str | None = None,
                   normalize: bool = True, cut: int | str | None = None, concat_pool: bool = True,
                   lin_ftrs: list[int] | None = None, ps: float = 0.5, first_bn: bool = True, bn_final: bool = False,
                   y_range: tuple[float, float] | None = None, metrics: Any = None,
                   loss_func: Callable[..., Any] | None = None, splitter: Callable[..., Any] | None = None,
                   channels_last: bool = True, **learner_kwargs: Any) -> Learner:
    """A ``Learner`` for image classification/regression with body ``arch`` and fastai's head.

    ``arch`` is a torchvision model name (``"resnet18"``), a builder/class or a module. ``n_out`` defaults to
    ``dls.c``; ``n_in`` to the input images' channels. ``pretrained=True`` loads torchvision's published
    weights (downloaded once into the torch hub cache, hash-checked), ``pretrained="path/or/URL"`` a given
    file (see ``models.pretrained``); either way the body is then frozen (``fine_tune`` unfreezes it).
    """
    if n_out is None:
        try:
            n_out = dls.c
        except AttributeError:
            raise ValueError("vision_learner: n_out is not given and the data has no vocab/c to infer it") from None
    n_in = n_in if n_in is not None else _infer_n_in(dls)
    kwargs = {"n_out": int(n_out), "n_in": int(n_in), "cut": cut, "concat_pool": concat_pool, "lin_ftrs": lin_ftrs,
              "ps": ps, "first_bn": first_bn, "bn_final": bn_final,
              "y_range": list(y_range) if y_range is not None else None}
    model = create_vision_model(arch, pretrained=pretrained, weights=weights, **kwargs)
    name = _arch_spec(arch)
    spec = None if name is None else {"factory": "torchloom_vision.models.vision:create_vision_model",
                                      "kwargs": {"arch": name, **kwargs}}
    if normalize and pretrained:
        _add_norm(dls, n_in)
    learn = Learner(dls, model, loss_func=loss_func, metrics=metrics, splitter=splitter or vision_splitter,
                    model_spec=spec, **learner_kwargs)
    return _finish(learn, pretrained, channels_last)


def cnn_learner(*args: Any, **kwargs: Any) -> Learner:
    """Deprecated fastai alias of ``vision_learner``."""
    return vision_learner(*args, **kwargs)


def _mask_codes(dls: Any) -> list | None:
    for t in dls.train.after_item.fs:
        if isinstance(t, AddMaskCodes) and t.codes is not None:
            return t.codes
    return None


def unet_learner(dls: Any, arch: str | Callable[..., nn.Module] | nn.Module, n_out: int | None = None,
                 n_in: int | None = None, pretrained: bool | str = False, weights: str | None = None,
                 normalize: bool = True, img_size: tuple[int, int] | None = None, last_cross: bool = True,
                 cut: int | str | None = None, metrics: Any = None, loss_func: Callable[..., Any] | None = None,
                 channels_last: bool = True, **learner_kwargs: Any) -> Learner:
    """A ``Learner`` for segmentation: a dynamic U-Net on the body of ``arch``.

    ``n_out`` defaults to the number of mask ``codes``; ``img_size`` to the size of the training images.
    The loss defaults to ``CrossEntropyLossFlat(axis=1)`` (one class score per pixel).
    """
    if n_out is None:
        codes = _mask_codes(dls)
        if codes is None:
            raise ValueError("unet_learner: pass n_out (the number of classes) or MaskBlock(codes=...)")
        n_out = len(codes)
    n_in = n_in if n_in is not None else _infer_n_in(dls)
    if img_size is None:
        img_size = tuple(dls.one_batch()[0].shape[-2:])
    kwargs = {"n_out": int(n_out), "img_size": [int(s) for s in img_size], "n_in": int(n_in), "cut": cut,
              "last_cross": last_cross}
    model = create_unet_model(arch, pretrained=pretrained, weights=weights, **kwargs)
    name = _arch_spec(arch)
    spec = None if name is None else {"factory": "torchloom_vision.models.unet:create_unet_model",
                                      "kwargs": {"arch": name, **kwargs}}
    if normalize and pretrained:
        _add_norm(dls, n_in)
    if loss_func is None:
        loss_func = CrossEntropyLossFlat(axis=1)
    learn = Learner(dls, model, loss_func=loss_func, metrics=metrics, splitter=unet_splitter, model_spec=spec,
                    **learner_kwargs)
    return _finish(learn, pretrained, channels_last)
