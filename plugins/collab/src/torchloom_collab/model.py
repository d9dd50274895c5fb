"""Collaborative-filtering models: ``EmbeddingDotBias`` (factors + biases) and ``EmbeddingNN``."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchloom_tabular import Embedding, TabularModel

__all__ = ["EmbeddingDotBias", "EmbeddingNN"]


class EmbeddingDotBias(nn.Module):
    """``rating = user . item + user_bias + item_bias`` (squashed into ``y_range`` when given).

    ``forward(x)`` takes ``(bs, 2)`` codes: user in column 0, item in column 1.
    """

    def __init__(self, n_factors: int, n_users: int, n_items: int, y_range: Sequence[float] | None = None) -> None:
        super().__init__()
        self.y_range = None if y_range is None else [float(v) for v in y_range]
        self.u_weight, self.i_weight = Embedding(n_users, n_factors), Embedding(n_items, n_factors)
        self.u_bias, self.i_bias = Embedding(n_users, 1), Embedding(n_items, 1)

    def forward(self, x: Tensor) -> Tensor:
        users, items = x[:, 0], x[:, 1]
        dot = (self.u_weight(users) * self.i_weight(items)).sum(1)
        res = dot + self.u_bias(users).squeeze(1) + self.i_bias(items).squeeze(1)
        if self.y_range is None:
            return res
        lo, hi = self.y_range
        return torch.sigmoid(res) * (hi - lo) + lo


class EmbeddingNN(TabularModel):
    """A ``TabularModel`` over the user and item embeddings only (no continuous input, one output)."""

    def __init__(self, emb_szs: Sequence[Sequence[int]], layers: Sequence[int], **kwargs: Any) -> None:
        super().__init__(emb_szs=emb_szs, n_cont=0, out_sz=1, layers=layers, **kwargs)
