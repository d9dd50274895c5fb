"""Test-time augmentation: predictions averaged over the training augmentations (fastai's ``tta``).

The data is read ``n`` times as the training split reads it (random item and batch transforms on,
in dataset order), the augmented predictions are averaged (or maxed), then mixed with the plain
validation-mode prediction: ``lerp(aug, plain, beta)``, so ``beta=0.25`` weighs the plain one 25 %.
Works for any domain whose loader has train-only (random) transforms; without any it warns and
returns the plain predictions.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

__all__ = ["tta"]


def _has_train_only(pipelines: list[Any]) -> bool:
    return any(getattr(t, "split_idx", None) == 0 for p in pipelines for t in getattr(p, "fs", ()))


def tta(learn: Any, ds_idx: int = 1, dl: Any = None, n: int = 4, beta: float | None = 0.25,
        use_max: bool = False) -> tuple[Any, Tensor]:
    """``(preds, targets)`` with test-time augmentation (fastai's) on dataset ``ds_idx`` (or ``dl``): ``n``
    passes with the training transforms on, averaged (``use_max``: maxed), mixed with the plain prediction
    as ``lerp(aug, plain, beta)``; ``beta=None`` returns ``((aug, plain), targets)`` unmixed."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"tta: n must be a positive number of augmented passes, got {n!r}")
    if beta is not None and not 0.0 <= beta <= 1.0:
        raise ValueError(f"tta: beta must be in [0, 1] (the weight of the plain prediction), got {beta!r}")
    if dl is None:
        dl = learn._dl_at(ds_idx)
    ds = getattr(dl, "dataset", None)
    if not hasattr(ds, "set_split_idx") or not hasattr(dl, "new"):
        raise TypeError(f"tta needs a torchloom DataLoader over Datasets (with dataset.set_split_idx), got "
                        f"{type(dl).__name__} over {type(ds).__name__}")
    plain_dl = dl.new(shuffle=False, drop_last=False)
    preds, targs = learn.get_preds(dl=plain_dl)[:2]
    with ds.set_split_idx(0):
        aug_dl = dl.new(shuffle=False, drop_last=False)
        tls = getattr(ds, "tls", ())
        if not _has_train_only([aug_dl.after_item, aug_dl.before_batch, aug_dl.after_batch,
                                *(getattr(t, "tfms", None) for t in tls)]):
            warnings.warn("tta: the data has no train-only (random) transforms, so augmented predictions equal "
                          "the plain ones; returning the plain predictions", UserWarning, stacklevel=2)
            return ((preds, preds) if beta is None and not use_max else preds), targs
        aug = torch.stack([learn.get_preds(dl=aug_dl)[0] for _ in range(n)])
    aug_preds = aug.max(0)[0] if use_max else aug.mean(0)
    if use_max:
        return torch.stack([preds, aug_preds]).max(0)[0], targs
    if beta is None:
        return (aug_preds, preds), targs
    return torch.lerp(aug_preds, preds, beta), targs
