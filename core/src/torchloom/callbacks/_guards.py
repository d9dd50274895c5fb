"""A default callback that turns silent wrong training into an error or a warning, at no per-batch cost.

* Gradients are cleared when a fit starts and when it ends (normally or by an exception), so the
  gradients of a batch interrupted after ``backward`` never leak into the next fit.
* On the first training batch of each fit only, the model's output is checked against the loss and
  the data: a classification loss needs one output per class (``dls.c``) along its class axis.
* After each epoch, the training losses the Recorder already holds as floats are scanned: the first
  NaN or infinite loss gives one warning naming the epoch and the batch (``TerminateOnNaN`` stops
  training instead).

The first-batch check handles ``after_loss`` only until it has run once per fit (the handler is
removed again), so the loop pays nothing per batch for it.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from torchloom.callbacks._base import Callback

__all__ = ["FitGuard", "NonFiniteLossWarning", "check_output_matches"]


class NonFiniteLossWarning(RuntimeWarning):
    """The training loss became NaN or infinite."""


def _class_axis(loss_func: Any) -> int | None:
    """The class axis of a classification loss (cross-entropy kinds), or None for other losses."""
    from torchloom._losses import CrossEntropyLossFlat

    if isinstance(loss_func, CrossEntropyLossFlat):
        return loss_func.axis
    if isinstance(loss_func, nn.CrossEntropyLoss | nn.NLLLoss):
        return 1
    if loss_func in (torch.nn.functional.cross_entropy, torch.nn.functional.nll_loss):
        return 1
    return None


def _n_classes(dls: Any) -> int | None:
    try:
        c = dls.c
    except Exception:
        return None
    return c if isinstance(c, int) and not isinstance(c, bool) and c > 0 else None


def check_output_matches(pred: Any, yb: tuple, loss_func: Any, dls: Any) -> None:
    """Raise ``ValueError`` when a classifier's output does not have one value per class of the data."""
    axis = _class_axis(loss_func)
    if axis is None or not isinstance(pred, Tensor) or not yb or not isinstance(yb[0], Tensor) or pred.ndim < 2:
        return
    targ = yb[0]
    if targ.is_floating_point() and targ.shape == pred.shape:
        return  # class probabilities (soft labels): shapes already agree
    n_out = pred.shape[axis]
    c = _n_classes(dls)
    if c is not None and n_out != c:
        raise ValueError(f"the model outputs {n_out} values per item (shape {tuple(pred.shape)}, class axis {axis}) "
                         f"but the data has {c} classes (dls.c); build the model with {c} outputs "
                         f"(or fix the loss's axis)")


class FitGuard(Callback):
    """Clears gradients around every fit, checks the first batch's output, warns at the first NaN/Inf loss."""

    order = 55  # after the Recorder (50): its per-batch losses are floats by after_epoch
    after = ("recorder",)

    def __init__(self, check_output: bool = True, warn_non_finite: bool = True) -> None:
        super().__init__()
        self.check_output, self.warn_non_finite = check_output, warn_non_finite
        self._seen = 0
        self._warned = False

    def _clear_grads(self) -> None:
        model = self.learn.model
        if isinstance(model, nn.Module):
            for m in model.modules():  # each module's own parameters: cheaper than the parameters() generators
                for p in m._parameters.values():
                    if p is not None and p.grad is not None:
                        p.grad = None

    def before_fit(self) -> None:
        if self.learn.is_inference:
            return
        self._clear_grads()
        self._seen, self._warned = 0, False
        if self.check_output:
            self.after_loss = self._first_batch  # handled until the first training batch has run

    def _first_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        self.after_loss = None  # once per fit: the loop pays nothing for it afterwards
        check_output_matches(learn.pred, learn.yb, learn.loss_func, learn.dls)

    def after_epoch(self) -> None:
        if not self.warn_non_finite or self._warned or self.learn.is_inference:
            return
        rec = getattr(self.learn, "recorder", None)
        losses = getattr(rec, "_losses", None)
        if not isinstance(losses, list):
            return
        if math.isfinite(sum(losses[self._seen:])):  # the common case in one pass (a NaN/Inf makes the sum one)
            self._seen = len(losses)
            return
        for i in range(self._seen, len(losses)):
            if not math.isfinite(losses[i]):
                self._warned = True
                learn = self.learn
                warnings.warn(
                    f"the training loss became {losses[i]} at epoch {learn.epoch}, training batch {i - self._seen} "
                    f"(batch {i} of this fit); the weights are likely {'NaN' if math.isnan(losses[i]) else 'broken'}"
                    " from there on. Check the inputs of that batch for NaN/Inf and the learning rate; add "
                    "TerminateOnNaN (learn.use('terminate_on_nan')) to stop at once.",
                    NonFiniteLossWarning, stacklevel=2)
                break
        self._seen = len(losses)

    def cleanup_fit(self) -> None:
        if self.learn is None:
            return
        if getattr(self, "after_loss", None) is not None:
            self.after_loss = None
        if not self.learn.is_inference:
            self._clear_grads()
