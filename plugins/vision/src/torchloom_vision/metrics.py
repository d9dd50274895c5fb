"""Segmentation metrics, accumulated on the device (one host sync per epoch through the kernel's Metric protocol)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from torchloom import Metric

__all__ = ["foreground_acc", "Dice", "DiceMulti", "dice", "dice_multi"]


def foreground_acc(inp: Tensor, targ: Tensor, bkg_idx: int = 0, axis: int = 1) -> Tensor:
    """Pixel accuracy ignoring the background pixels of the target (class ``bkg_idx``)."""
    targ = targ.squeeze(1) if targ.ndim == inp.ndim else targ
    mask = targ != bkg_idx
    return (inp.argmax(dim=axis)[mask] == targ[mask]).float().mean()


class Dice(Metric):
    """Binary Dice over the epoch: foreground (any code > 0) of the argmax prediction vs the target."""

    def __init__(self, axis: int = 1) -> None:
        self.axis = axis
        self.reset()

    def reset(self) -> None:
        self.inter: Tensor | float = 0.0
        self.union: Tensor | float = 0.0

    def accumulate(self, learn: Any) -> None:
        pred = (learn.pred.argmax(dim=self.axis) > 0).reshape(-1)
        targ = (learn.yb[0] > 0).reshape(-1)
        if pred.numel() != targ.numel():
            raise ValueError(f"Dice: prediction has {pred.numel()} pixels but the target {targ.numel()}")
        self.inter = self.inter + (pred & targ).sum()
        self.union = self.union + pred.sum() + targ.sum()

    @property
    def value(self) -> Tensor | None:
        if isinstance(self.union, float):
            return None
        return torch.where(self.union > 0, 2.0 * self.inter / self.union.clamp_min(1), torch.ones_like(self.union,
                                                                                                       dtype=torch.float))

    @property
    def name(self) -> str:
        return "dice"


class DiceMulti(Metric):
    """Mean Dice over the classes present (fastai's ``DiceMulti``), accumulated per class over the epoch."""

    def __init__(self, axis: int = 1) -> None:
        self.axis = axis
        self.reset()

    def reset(self) -> None:
        self.inter: Tensor | None = None
        self.union: Tensor | None = None

    def accumulate(self, learn: Any) -> None:
        n = learn.pred.shape[self.axis]
        pred = learn.pred.argmax(dim=self.axis).reshape(-1)
        targ = learn.yb[0].reshape(-1).to(pred.dtype)
        inter = torch.bincount(targ[pred == targ], minlength=n)[:n]
        union = torch.bincount(pred, minlength=n)[:n] + torch.bincount(targ, minlength=n)[:n]
        self.inter = inter if self.inter is None else self.inter + inter
        self.union = union if self.union is None else self.union + union

    @property
    def value(self) -> Tensor | None:
        if self.union is None:
            return None
        present = self.union > 0
        return (2.0 * self.inter[present] / self.union[present]).mean()

    @property
    def name(self) -> str:
        return "dice_multi"


dice = Dice()
dice_multi = DiceMulti()
