"""Grid display of decoded samples (matplotlib is imported only when something is shown).

``show_samples`` / ``show_results`` return the matplotlib figure (a notebook then draws it once
instead of printing a list of Axes); with text contexts (lists) they return those.
"""
from __future__ import annotations

import math
from typing import Any

from torchloom._plotting import figure_of, subplots
from torchloom._tensors import show_title

__all__ = ["show_samples", "show_results", "get_grid"]


def get_grid(n: int, nrows: int | None = None, ncols: int | None = None, figsize: tuple | None = None,
             title: str | None = None) -> list:
    """``n`` matplotlib axes in a grid (extra axes hidden)."""
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = nrows or math.ceil(n / ncols)
    figsize = figsize or (3 * ncols, 3 * nrows)
    fig, axs = subplots(nrows, ncols, figsize=figsize, squeeze=False, what="show_batch / show_results")
    axs = [ax for row in axs for ax in row]
    for ax in axs[n:]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return axs[:n]


def show_samples(samples: list, ctxs: list | None = None, **kwargs: Any) -> Any:
    """Show each decoded sample on its own axis: each element calls its ``show(ctx=ax)`` in turn."""
    ctxs = ctxs if ctxs is not None else get_grid(len(samples), figsize=kwargs.pop("figsize", None))
    res = []
    for s, ctx in zip(samples, ctxs):
        for x in s if isinstance(s, tuple) else (s,):
            if hasattr(x, "show"):
                ctx = x.show(ctx=ctx, **kwargs)
            else:
                ctx = show_title(_short(x), ctx=ctx)
        if hasattr(ctx, "axis") and not ctx.images:
            ctx.axis("off")
        res.append(ctx)
    return figure_of(res)


def show_results(samples: list, n_inp: int, n_targ: int, ctxs: list | None = None, **kwargs: Any) -> Any:
    """Each sample's inputs, then ``target/prediction`` as a title (green if they agree, red otherwise)."""
    ctxs = ctxs if ctxs is not None else get_grid(len(samples), figsize=kwargs.pop("figsize", None))
    res = []
    for s, ctx in zip(samples, ctxs):
        for x in s[:n_inp]:
            ctx = x.show(ctx=ctx, **kwargs) if hasattr(x, "show") else show_title(_short(x), ctx=ctx)
        targs, preds = s[n_inp:n_inp + n_targ], s[n_inp + n_targ:]
        for t, p in zip(targs, preds):
            same = _short(t) == _short(p)
            ctx = show_title(f"{_short(t)}/{_short(p)}", ctx=ctx, color="green" if same else "red")
        if hasattr(ctx, "axis") and not ctx.images:
            ctx.axis("off")
        res.append(ctx)
    return figure_of(res)


def _short(x: Any) -> str:
    from torch import Tensor

    if isinstance(x, Tensor):
        return str(x.item()) if x.numel() == 1 else f"{type(x).__name__}{tuple(x.shape)}"
    r = str(x)
    return r if len(r) < 60 else r[:57] + "..."
