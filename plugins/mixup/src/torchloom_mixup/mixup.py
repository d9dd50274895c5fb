"""MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019) as torchloom callbacks, with fastai's semantics.

Both mix each training batch with a shuffled copy of itself in ``before_batch`` and train on the
interpolated loss (``MixedLoss``) instead of the original one. Integer targets (class indices) keep
their type and the loss is interpolated; float targets (one-hot, multi-label, regression) are
interpolated themselves and the original loss is used. The original loss function is put back after
training each epoch (so validation, ``get_preds`` and ``predict`` are untouched), after the fit, and in
``cleanup_fit`` -- so even a KeyboardInterrupt mid-batch leaves ``learn.loss_func`` as it was.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Beta

from torchloom import Callback

from .loss import MixedLoss

__all__ = ["CutMix", "MixHandler", "MixUp"]


def _check_alpha(owner: str, alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0 or math.isinf(alpha):
        raise ValueError(f"{owner}: alpha must be a positive finite number (Beta(alpha, alpha)), got {alpha!r}")
    return float(alpha)


def _as_tuple(b: Any) -> tuple:
    return tuple(b) if isinstance(b, (tuple, list)) else (b,)


class MixHandler(Callback):
    """What MixUp and CutMix share: the Beta distribution, the loss swap and its guaranteed undo."""

    run_valid = False

    def __init__(self, alpha: float = 0.5) -> None:
        super().__init__()
        self.alpha = _check_alpha(type(self).__name__, alpha)
        self.yb1: tuple | None = None
        self.lam: Tensor | None = None
        self._base_loss: Any = None
        self._mixed_loss: MixedLoss | None = None

    # -- loss swap ---------------------------------------------------------------------------------
    def before_train(self) -> None:
        self.alpha = _check_alpha(type(self).__name__, self.alpha)  # `use` may have reconfigured it
        self.distrib = Beta(torch.tensor(self.alpha), torch.tensor(self.alpha))
        current = self.learn.loss_func
        if current is None:
            raise ValueError(f"{type(self).__name__} needs the Learner to have a loss function (loss_func is None)")
        if self._mixed_loss is not None and current is self._mixed_loss:
            return  # still in place (an epoch was cancelled before after_train)
        self._base_loss = current
        self._mixed_loss = MixedLoss(current, self)
        self.learn.loss_func = self._mixed_loss

    def _restore(self) -> None:
        """Put the original loss back (idempotent; leaves a loss someone else installed since alone).

        Not during an inference run (``get_preds``/``validate``) nested inside a fit: its fit events
        must not undo the outer fit's swap; the outer fit's own events restore.
        """
        if getattr(self.learn, "is_inference", False):
            return
        if self._mixed_loss is not None and self.learn is not None and self.learn.loss_func is self._mixed_loss:
            self.learn.loss_func = self._base_loss
        self._mixed_loss = self._base_loss = None
        self.yb1 = self.lam = None

    def after_train(self) -> None:
        self._restore()

    before_validate = after_cancel_train = after_cancel_epoch = after_cancel_fit = after_train
    after_fit = cleanup_fit = after_train

    # -- target handling -------------------------------------------------------------------------
    def _int_targets(self, yb: tuple) -> bool:
        """Interpolate the loss (class indices) rather than the targets (float targets)?"""
        y_int = getattr(self._base_loss, "y_int", None)
        if y_int is not None:
            return bool(y_int)
        return all(isinstance(y, Tensor) and not (y.is_floating_point() or y.is_complex()) for y in yb)

    def _mix_targets(self, yb: tuple, shuffle: Tensor, lam: Tensor) -> None:
        """Record the shuffled targets for the loss, or interpolate float targets in place of that."""
        self.lam = lam
        if self._int_targets(yb):
            self.yb1 = tuple(y[shuffle] for y in yb)
        else:
            self.learn.yb = tuple(_lerp_batch(y, shuffle, lam, f"{type(self).__name__}: target {i}")
                                  for i, y in enumerate(yb))
            self.yb1 = None

    def _batch(self) -> tuple[tuple, tuple, int] | None:
        xb, yb = _as_tuple(self.learn.xb), _as_tuple(self.learn.yb)
        if not yb or not xb:
            return None  # nothing to interpolate between
        first = yb[0] if isinstance(yb[0], Tensor) else xb[0]
        if not isinstance(first, Tensor) or first.ndim == 0:
            raise TypeError(f"{type(self).__name__}: cannot find the batch size of a batch whose first target is "
                            f"{type(yb[0]).__name__}")
        return xb, yb, first.shape[0]


def _lerp_batch(x: Tensor, shuffle: Tensor, lam: Tensor, what: str) -> Tensor:
    """``lerp(x[shuffle], x, lam)`` with one weight per sample (``lam[i]`` on ``x[i]``)."""
    if x.shape[:1] != lam.shape:
        raise ValueError(f"{what} has shape {tuple(x.shape)}; expected the batch size {lam.shape[0]} first")
    if lam.dtype != x.dtype or lam.device != x.device:
        lam = lam.to(device=x.device, dtype=x.dtype)
    w = lam.view(-1, *([1] * (x.ndim - 1)))
    return torch.lerp(x[shuffle], x, w)


class MixUp(MixHandler):
    """MixUp: each sample becomes ``lam*x + (1-lam)*x_other`` with ``lam = max(l, 1-l)``, ``l ~ Beta(alpha, alpha)``.

    Every floating-point input is mixed, whatever its shape (images, tabular continuous features,
    embeddings); integer inputs (categorical codes, token ids) keep the dominant sample's values.
    """

    def __init__(self, alpha: float = 0.4) -> None:
        super().__init__(alpha)

    def before_batch(self) -> None:
        batch = self._batch()
        if batch is None:
            return
        xb, yb, bs = batch
        dev = next((t.device for t in xb if isinstance(t, Tensor)), None)
        lam = self.distrib.sample((bs,))
        lam = torch.maximum(lam, 1 - lam).to(dev)
        shuffle = torch.randperm(bs, device=dev)
        self.learn.xb = tuple(self._mix_input(i, x, shuffle, lam) for i, x in enumerate(xb))
        self._mix_targets(yb, shuffle, lam)

    @staticmethod
    def _mix_input(i: int, x: Any, shuffle: Tensor, lam: Tensor) -> Any:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            return x
        return _lerp_batch(x, shuffle, lam, f"MixUp: input {i}")


class CutMix(MixHandler):
    """CutMix: a random box of each image is replaced by the same box of another image of the batch.

    ``lam ~ Beta(alpha, alpha)`` once per batch sets the box area ``(1-lam)*H*W``; the loss weight is
    then the area actually kept after clipping the box to the image. Needs image-like first inputs
    ``(N, ..., H, W)``; the batch is copied, never modified in place.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha)

    def before_batch(self) -> None:
        batch = self._batch()
        if batch is None:
            return
        xb, yb, bs = batch
        x = xb[0]
        if not isinstance(x, Tensor) or x.ndim < 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"CutMix needs image-like inputs (N, C, H, W); input 0 is {shape}. "
                             "Use MixUp for tabular or sequence inputs.")
        if x.shape[0] != bs:
            raise ValueError(f"CutMix: input 0 has shape {tuple(x.shape)}; expected the batch size {bs} first")
        H, W = x.shape[-2], x.shape[-1]
        x1, y1, x2, y2 = self.rand_bbox(W, H, float(self.distrib.sample()))
        shuffle = torch.randperm(bs, device=x.device)
        mixed = x.clone()
        mixed[..., y1:y2, x1:x2] = x[shuffle][..., y1:y2, x1:x2]
        self.learn.xb = (mixed, *xb[1:])
        kept = 1 - ((x2 - x1) * (y2 - y1)) / float(W * H)
        self._mix_targets(yb, shuffle, torch.full((bs,), kept, device=x.device))

    @staticmethod
    def rand_bbox(W: int, H: int, lam: float) -> tuple[int, int, int, int]:
        """A box of about ``(1-lam)*W*H`` pixels centred on a uniform random point, clipped to the image."""
        cut_rat = math.sqrt(1.0 - lam)
        cut_w, cut_h = round(W * cut_rat), round(H * cut_rat)
        cx, cy = int(torch.randint(0, W, ())), int(torch.randint(0, H, ()))
        x1, x2 = min(max(cx - cut_w // 2, 0), W), min(max(cx + cut_w // 2, 0), W)
        y1, y2 = min(max(cy - cut_h // 2, 0), H), min(max(cy + cut_h // 2, 0), H)
        return x1, y1, x2, y2
