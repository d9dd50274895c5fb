"""Loss functions that flatten their inputs and know their activation and decoding (fastai's BaseLoss).

``activation`` turns raw outputs into probabilities for ``get_preds``; ``decodes`` turns those into
predictions (argmax, threshold). ``reduction`` can be switched (``get_preds(with_loss=True)`` sets
"none"). Losses that hold tensors (class weights) follow ``.to(device)``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["BCEWithLogitsLossFlat", "BaseLoss", "CrossEntropyLossFlat", "L1LossFlat", "MSELossFlat"]


def loss_func_from_data(dls: Any) -> Any:
    """The loss the data provides (``dls.train_ds.loss_func`` or ``dls.loss_func``) for ``Learner(loss_func=None)``."""
    loss_func = getattr(getattr(dls, "train_ds", None), "loss_func", None) or getattr(dls, "loss_func", None)
    if loss_func is None:
        raise ValueError("Learner(loss_func=None): the data does not provide a default loss function "
                         "(dls.train_ds.loss_func); pass loss_func=..., e.g. CrossEntropyLossFlat()")
    return loss_func


class BaseLoss:
    """Wrap ``loss_cls(*args, **kwargs)``: move ``axis`` last, flatten, optionally cast targets to float."""

    def __init__(self, loss_cls: type[nn.Module], *args: Any, axis: int = -1, flatten: bool = True,
                 floatify: bool = False, is_2d: bool = True, **kwargs: Any) -> None:
        self.axis, self.flatten, self.floatify, self.is_2d = axis, flatten, floatify, is_2d
        self.func = loss_cls(*args, **kwargs)

    def __call__(self, inp: Tensor, targ: Tensor, **kwargs: Any) -> Tensor:
        if self.axis != -1 and self.axis != inp.ndim - 1:  # move the class axis last, others keep their order
            if targ.ndim == inp.ndim:
                targ = targ.movedim(self.axis, -1)
            inp = inp.movedim(self.axis, -1)
        if self.floatify and targ.dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            targ = targ.float()
        elif targ.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8) and not self.floatify:
            targ = targ.long()
        if self.flatten:
            inp = inp.reshape(-1, inp.shape[-1]) if self.is_2d else inp.reshape(-1)
            targ = targ.reshape(-1)
        return self.func(inp, targ, **kwargs)

    @property
    def reduction(self) -> str:
        return self.func.reduction

    @reduction.setter
    def reduction(self, value: str) -> None:
        self.func.reduction = value

    def to(self, *args: Any, **kwargs: Any) -> BaseLoss:
        """Move tensors held by the wrapped loss (e.g. class weights)."""
        self.func.to(*args, **kwargs)
        return self

    def activation(self, x: Tensor) -> Tensor:
        return x

    def decodes(self, x: Tensor) -> Tensor:
        return x

    def __repr__(self) -> str:
        return f"FlattenedLoss of {self.func}"


class CrossEntropyLossFlat(BaseLoss):
    """Cross-entropy over ``axis``; activation softmax, decodes argmax."""

    def __init__(self, *args: Any, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(nn.CrossEntropyLoss, *args, axis=axis, **kwargs)

    def __call__(self, inp: Tensor, targ: Tensor, **kwargs: Any) -> Tensor:
        if targ.dtype != torch.long and targ.is_floating_point() and targ.shape != inp.shape:
            raise TypeError(f"CrossEntropyLossFlat got float targets (dtype {targ.dtype}, shape {tuple(targ.shape)}) "
                            f"for outputs of shape {tuple(inp.shape)}: classification targets are integer class "
                            "indices (a float like 0.7 would be truncated to 0). Use MSELossFlat for regression, "
                            "or pass class probabilities with the same shape as the output.")
        if inp.ndim == 2 and targ.ndim == 2 and targ.is_floating_point() and self.axis in (-1, 1) and not kwargs:
            return self.func(inp, targ)  # class probabilities
        if inp.ndim == 2 and targ.ndim == 1 and self.axis in (-1, 1) and not kwargs:  # fast path, no reshapes
            return self.func(inp, targ.long() if targ.dtype != torch.long else targ)
        return super().__call__(inp, targ, **kwargs)

    def activation(self, x: Tensor) -> Tensor:
        return F.softmax(x, dim=self.axis)

    def decodes(self, x: Tensor) -> Tensor:
        return x.argmax(dim=self.axis)


class BCEWithLogitsLossFlat(BaseLoss):
    """Binary cross-entropy on logits (multi-label); activation sigmoid, decodes ``x > thresh``."""

    def __init__(self, *args: Any, axis: int = -1, floatify: bool = True, thresh: float = 0.5, **kwargs: Any) -> None:
        super().__init__(nn.BCEWithLogitsLoss, *args, axis=axis, floatify=floatify, is_2d=False, **kwargs)
        self.thresh = thresh

    def activation(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)

    def decodes(self, x: Tensor) -> Tensor:
        return x > self.thresh


class MSELossFlat(BaseLoss):
    """Mean squared error on flattened float tensors."""

    def __init__(self, *args: Any, axis: int = -1, floatify: bool = True, **kwargs: Any) -> None:
        super().__init__(nn.MSELoss, *args, axis=axis, floatify=floatify, is_2d=False, **kwargs)


class L1LossFlat(BaseLoss):
    """Mean absolute error on flattened float tensors."""

    def __init__(self, *args: Any, axis: int = -1, floatify: bool = True, **kwargs: Any) -> None:
        super().__init__(nn.L1Loss, *args, axis=axis, floatify=floatify, is_2d=False, **kwargs)
