"""Language-model metrics."""
from __future__ import annotations

import math
from typing import Any

import torch

from torchloom import Metric

__all__ = ["Perplexity"]


class Perplexity(Metric):
    """``exp`` of the average validation loss (cross-entropy per token): how many words the model hesitates
    between, on average."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total: Any = 0.0
        self.count = 0

    def accumulate(self, learn: Any) -> None:
        n = learn.yb[0].numel() if learn.yb and isinstance(learn.yb[0], torch.Tensor) else 1
        self.total = self.total + learn.loss.detach().mean() * n
        self.count += n

    @property
    def value(self) -> float | None:
        if not self.count:
            return None
        return math.exp(float(self.total) / self.count)

    @property
    def name(self) -> str:
        return "perplexity"
