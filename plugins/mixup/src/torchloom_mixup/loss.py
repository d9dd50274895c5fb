"""The loss a MixUp/CutMix callback puts in ``learn.loss_func`` while training.

Mixed inputs have two targets; the loss is the per-sample interpolation of the original loss on
both, ``lerp(loss(pred, y_shuffled), loss(pred, y), lam)``, then reduced the way the original loss
reduces. Anything else (``activation``, ``decodes``, ``y_int``...) is read from the original loss.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["MixedLoss", "per_sample_loss", "reduction_of"]


def reduction_of(loss_func: Any) -> str:
    """How ``loss_func`` reduces ("mean" when it does not say)."""
    red = getattr(loss_func, "reduction", "mean")
    return red if red in ("mean", "sum", "none") else "mean"


def _accepts_reduction(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "reduction" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _loss_name(loss_func: Any) -> str:
    return getattr(loss_func, "__name__", None) or type(loss_func).__name__


def per_sample_loss(loss_func: Callable[..., Tensor], pred: Any, *targets: tuple) -> list[Tensor]:
    """``loss_func(pred, *yb)`` without reduction for each ``yb`` in ``targets``.

    Through the loss's ``reduction`` attribute (switched once for all of them) or else a
    ``reduction="none"`` keyword; a clear error when the loss has neither.
    """
    if isinstance(getattr(loss_func, "reduction", None), str):
        old = loss_func.reduction  # type: ignore[attr-defined]
        loss_func.reduction = "none"  # type: ignore[attr-defined]
        try:
            return [loss_func(pred, *yb) for yb in targets]
        finally:
            loss_func.reduction = old  # type: ignore[attr-defined]
    if _accepts_reduction(loss_func):
        return [loss_func(pred, *yb, reduction="none") for yb in targets]
    raise TypeError(
        f"mixing needs per-sample losses, but the loss function {_loss_name(loss_func)!r} has no `reduction` "
        "attribute and does not accept reduction='none'; use a torch loss (nn.CrossEntropyLoss, "
        "F.cross_entropy, torchloom.CrossEntropyLossFlat, ...)"
    )


class MixedLoss:
    """Interpolates ``base`` between the batch's targets and the shuffled targets kept by ``handler``.

    ``handler`` provides ``yb1`` (shuffled targets, or None when the targets themselves were mixed),
    ``lam`` (one weight per sample, on the original target) and ``learn``.
    """

    def __init__(self, base: Callable[..., Tensor], handler: Any) -> None:
        self.__dict__.update(base=base, handler=handler)

    def __call__(self, pred: Any, *yb: Any) -> Tensor:
        h = self.handler
        yb1 = getattr(h, "yb1", None)
        if yb1 is None or not h.learn.training:
            return self.base(pred, *yb)
        bs = h.lam.shape[0]
        loss1, loss = per_sample_loss(self.base, pred, tuple(yb1), yb)
        if loss.ndim == 0 or loss.numel() % bs:
            raise ValueError(
                f"mixing needs one loss per sample: {_loss_name(self.base)} with reduction='none' returned shape "
                f"{tuple(loss.shape)} for a batch of {bs}"
            )
        lam = h.lam if h.lam.dtype == loss.dtype else h.lam.to(loss.dtype)
        if loss.ndim == 1 and loss.shape[0] == bs:  # the usual case: one loss per sample
            mixed = torch.lerp(loss1, loss, lam)
        else:  # e.g. one loss per pixel, flattened
            mixed = torch.lerp(loss1.reshape(bs, -1), loss.reshape(bs, -1), lam.view(bs, 1))
        red = reduction_of(self.base)
        if red == "mean":
            return mixed.mean()
        if red == "sum":
            return mixed.sum()
        return mixed.reshape(loss.shape)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.__dict__["base"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.base, name, value)  # e.g. get_preds(with_loss=True) switching `reduction`

    def __repr__(self) -> str:
        return f"MixedLoss({self.base!r})"
