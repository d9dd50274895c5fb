"""``TabularModel``: embeddings for categorical columns, batch norm on continuous ones, Linear-BN-dropout blocks."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["TabularModel", "LinBnDrop", "SigmoidRange", "Embedding", "emb_sz_rule", "get_emb_sz", "tabular_config"]


def emb_sz_rule(n_cat: int) -> int:
    """fastai's rule of thumb for an embedding width: ``min(600, round(1.6 * n_cat**0.56))``."""
    return min(600, round(1.6 * n_cat ** 0.56))


def get_emb_sz(to: Any, sz_dict: dict[str, int] | None = None) -> list[tuple[int, int]]:
    """``(n_categories, width)`` for each categorical column of ``to`` (a TabularPandas or its loaders);
    ``sz_dict`` overrides widths by column name."""
    sz_dict = sz_dict or {}
    tab = getattr(to, "tabular", to)
    return [(len(tab.classes[n]), sz_dict.get(n, emb_sz_rule(len(tab.classes[n])))) for n in tab.cat_names]


def tabular_config(**kwargs: Any) -> dict[str, Any]:
    """Keyword arguments for ``TabularModel`` (fastai's ``tabular_config``): ps, embed_p, y_range, use_bn,
    bn_final, bn_cont, lin_first."""
    allowed = {"ps", "embed_p", "y_range", "use_bn", "bn_final", "bn_cont", "lin_first"}
    bad = sorted(set(kwargs) - allowed)
    if bad:
        raise TypeError(f"tabular_config: unknown argument(s) {bad}; allowed: {sorted(allowed)}")
    return kwargs


class Embedding(nn.Embedding):
    """An embedding initialised like fastai's: truncated normal, std 0.01."""

    def __init__(self, ni: int, nf: int, std: float = 0.01) -> None:
        super().__init__(ni, nf)
        with torch.no_grad():
            nn.init.trunc_normal_(self.weight, std=std, a=-2 * std, b=2 * std)


class SigmoidRange(nn.Module):
    """``sigmoid(x) * (high - low) + low``: outputs kept inside ``y_range``."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = float(low), float(high)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low


class LinBnDrop(nn.Sequential):
    """Linear, activation, batch norm and dropout (``lin_first``), or batch norm, dropout, linear, activation."""

    def __init__(self, n_in: int, n_out: int, bn: bool = True, p: float = 0.0, act: nn.Module | None = None,
                 lin_first: bool = False) -> None:
        layers: list[nn.Module] = [nn.BatchNorm1d(n_out if lin_first else n_in)] if bn else []
        if p != 0:
            layers.append(nn.Dropout(p))
        lin: list[nn.Module] = [nn.Linear(n_in, n_out, bias=not bn)]
        if act is not None:
            lin.append(act)
        super().__init__(*(lin + layers if lin_first else layers + lin))


class TabularModel(nn.Module):
    """fastai's tabular network: embeddings (+ dropout ``embed_p``) and batch-normed continuous inputs,
    concatenated, then ``layers`` of ``LinBnDrop`` and a final linear layer (``SigmoidRange`` with ``y_range``).

    ``forward(x_cat, x_cont=None)``; every argument is JSON-able so ``learn.export`` can rebuild it.
    """

    def __init__(self, emb_szs: Sequence[Sequence[int]], n_cont: int, out_sz: int, layers: Sequence[int],
                 ps: float | Sequence[float] | None = None, embed_p: float = 0.0,
                 y_range: Sequence[float] | None = None, use_bn: bool = True, bn_final: bool = False,
                 bn_cont: bool = True, lin_first: bool = True) -> None:
        super().__init__()
        layers = [int(n) for n in layers]
        if ps is None:
            ps = [0.0] * len(layers)
        elif isinstance(ps, (int, float)):
            ps = [float(ps)] * len(layers)
        ps = [float(p) for p in ps]
        if len(ps) != len(layers):
            raise ValueError(f"TabularModel: ps has {len(ps)} values for {len(layers)} layers")
        self.embeds = nn.ModuleList([Embedding(int(ni), int(nf)) for ni, nf in emb_szs])
        self.emb_drop = nn.Dropout(embed_p)
        self.bn_cont = nn.BatchNorm1d(n_cont) if bn_cont and n_cont > 0 else None
        n_emb = sum(int(nf) for _, nf in emb_szs)
        self.n_emb, self.n_cont = n_emb, n_cont
        sizes = [n_emb + n_cont, *layers, out_sz]
        acts: list[nn.Module | None] = [nn.ReLU(inplace=True) for _ in layers] + [None]
        blocks = [LinBnDrop(sizes[i], sizes[i + 1], bn=use_bn and (i != len(acts) - 1 or bn_final),
                            p=p, act=a, lin_first=lin_first) for i, (p, a) in enumerate(zip([*ps, 0.0], acts))]
        if y_range is not None:
            blocks.append(SigmoidRange(*y_range))
        self.layers = nn.Sequential(*blocks)

    def forward(self, x_cat: Tensor, x_cont: Tensor | None = None) -> Tensor:
        parts = []
        if self.n_emb:
            x = torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], 1)
            parts.append(self.emb_drop(x))
        if self.n_cont and x_cont is not None:
            parts.append(self.bn_cont(x_cont) if self.bn_cont is not None else x_cont)
        return self.layers(torch.cat(parts, 1) if len(parts) > 1 else parts[0])
