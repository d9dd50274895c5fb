"""Image grids: ``show_images``, ``show_batch(dls)`` and ``show_results(learn)`` (matplotlib, imported lazily).

Each cell shows a decoded sample by calling ``.show(ctx=ax)`` on its parts, so masks are drawn over their
image, points and boxes on top, and labels become titles. In ``show_results`` a wrong predicted label is red;
for segmentation the target and the predicted masks are shown side by side over the image.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from torchloom import show_image, show_title, to_plain

from .core import retype

__all__ = ["get_grid", "show_images", "show_samples", "show_batch", "show_results"]


def get_grid(n: int, nrows: int | None = None, ncols: int | None = None, figsize: tuple | None = None,
             imsize: float = 2.5, title: str | None = None) -> tuple[Any, list[Any]]:
    """A figure with ``n`` axes in a grid (extra cells hidden); returns ``(fig, axes)``."""
    from torchloom import subplots  # a figure a notebook draws once, even when it is also returned

    ncols = ncols or (math.ceil(n / nrows) if nrows else math.ceil(math.sqrt(n)))
    nrows = nrows or math.ceil(n / ncols)
    figsize = figsize or (ncols * imsize, nrows * imsize)
    fig, axs = subplots(nrows, ncols, figsize=figsize, squeeze=False, what="torchloom-vision's show functions")
    axs = [ax for row in axs for ax in row]
    for ax in axs[n:]:
        ax.set_axis_off()
    if title is not None:
        fig.suptitle(title)
    return fig, axs[:n]


def show_images(ims: Sequence[Any], nrows: int | None = None, ncols: int | None = None,
                titles: Sequence[str] | None = None, figsize: tuple | None = None, **kwargs: Any) -> Any:
    """Show images (tensors, arrays or PIL images) in a grid with optional titles; returns the figure."""
    fig, axs = get_grid(len(ims), nrows, ncols, figsize)
    for i, (im, ax) in enumerate(zip(ims, axs)):
        if hasattr(im, "show"):
            im.show(ctx=ax, **kwargs)
        else:
            show_image(im, ctx=ax, **kwargs)
        if titles is not None:
            ax.set_title(str(titles[i]))
        ax.axis("off")
    fig.tight_layout()
    return fig


def _show_part(o: Any, ax: Any, color: str = "black") -> None:
    if o is None:
        return
    if isinstance(o, Tensor) and type(o) is Tensor:  # an undecoded plain tensor: a label or an image
        if o.ndim >= 2:
            show_image(o, ctx=ax)
        else:
            show_title(str(o.tolist()), ctx=ax, color=color)
        return
    if isinstance(o, (tuple, list)) and not isinstance(o, str) and not hasattr(o, "show"):
        for p in o:
            _show_part(p, ax, color)
        return
    if hasattr(o, "show"):
        if isinstance(o, (Tensor, Image.Image)):  # pictures, masks, points: no title colour
            o.show(ctx=ax)
        else:
            try:
                o.show(ctx=ax, color=color)
            except TypeError:
                o.show(ctx=ax)
    else:
        show_title(str(o), ctx=ax, color=color)


def show_samples(samples: Sequence[tuple], max_n: int = 9, nrows: int | None = None, ncols: int | None = None,
                 figsize: tuple | None = None, colors: Sequence[str] | None = None) -> Any:
    """Draw decoded samples, one per cell (each part shown on the same axis); returns the figure."""
    samples = list(samples)[:max_n]
    fig, axs = get_grid(len(samples), nrows, ncols, figsize)
    for i, (s, ax) in enumerate(zip(samples, axs)):
        for part in (s if isinstance(s, tuple) else (s,)):
            _show_part(part, ax, colors[i] if colors is not None else "black")
        ax.axis("off")
    fig.tight_layout()
    return fig


def _decoded_samples(dls: Any, b: Any, max_n: int) -> list[tuple]:
    dec = dls.decode_batch(b, max_n=max_n)
    return [tuple(s) if isinstance(s, (tuple, list)) else (s,) for s in dec]


def show_batch(dls: Any, b: Any = None, max_n: int = 9, nrows: int | None = None, ncols: int | None = None,
               figsize: tuple | None = None) -> Any:
    """One batch of ``dls`` (or ``b``) decoded and drawn as a grid of images with their labels/masks/points."""
    dl = getattr(dls, "train", dls)
    if b is None:
        b = dl.one_batch()
    return show_samples(_decoded_samples(dl, b, max_n), max_n, nrows, ncols, figsize)


def _is_mask(t: Any) -> bool:
    return isinstance(t, Tensor) and t.ndim >= 2 and not t.is_floating_point()


def show_results(learn: Any, ds_idx: int = 1, dl: Any = None, max_n: int = 9, shuffle: bool = True,
                 nrows: int | None = None, ncols: int | None = None, figsize: tuple | None = None) -> Any:
    """Inputs with target and prediction: ``target/prediction`` titles (red when wrong) or, for segmentation,
    the target mask (left) and the predicted mask (right) over each image. Returns the figure."""
    if dl is None:
        dl = learn.dls.train if ds_idx == 0 else learn.dls.valid
        if shuffle and hasattr(dl, "new"):
            dl = dl.new(shuffle=True)
    b = dl.one_batch()
    n_inp = getattr(learn.dls, "n_inp", 1) or 1
    _, _, dec = learn.get_preds(dl=[b], with_decoded=True)
    x, ys = b[:n_inp], b[n_inp:]
    dec_t = dec if isinstance(dec, tuple) else (dec,)
    truth = _decoded_samples(dl, tuple(x) + tuple(ys), max_n)
    # decoded predictions get their target's type, so the target transforms decode them (labels, codes)
    dec_t = tuple(retype(d.to(y.device), y) if isinstance(d, Tensor) and isinstance(y, Tensor) else d
                  for d, y in zip(dec_t, ys))
    preds = _decoded_samples(dl, tuple(x) + dec_t, max_n)
    if ys and _is_mask(ys[0]) and ys[0].ndim >= 3:  # segmentation: target | prediction
        cells, titles = [], []
        for t, p in zip(truth, preds):
            cells += [t, p]
            titles += ["target", "prediction"]
        fig = show_samples(cells, 2 * max_n, nrows, ncols or 2, figsize)
        for ax, title in zip(fig.axes, titles):
            ax.set_title(title)
        return fig
    samples, colors = [], []
    for t, p in zip(truth, preds):
        tl, pl = t[n_inp:], p[n_inp:]
        wrong = any(not _same(a, c) for a, c in zip(tl, pl))
        samples.append(tuple(t[:n_inp]) + (_Title(f"{_label(tl)}/{_label(pl)}"),))
        colors.append("red" if wrong else "green")
    return show_samples(samples, max_n, nrows, ncols, figsize, colors)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.shape == b.shape and torch.equal(to_plain(a).cpu(), to_plain(b).cpu())
    return str(a) == str(b)


def _label(parts: Sequence[Any]) -> str:
    return ";".join(str(p.tolist() if isinstance(p, Tensor) else p) for p in parts)


class _Title(str):
    def show(self, ctx: Any = None, color: str = "black", **kwargs: Any) -> Any:
        return show_title(str(self), ctx=ctx, color=color)
