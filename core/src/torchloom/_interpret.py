"""Interpreting a trained classifier: the items it gets most wrong, and the classes it confuses.

``ClassificationInterpretation.from_learner(learn)`` predicts the validation set once (predictions,
targets, decoded predictions and per-item losses, in dataset order) and then offers
``confusion_matrix``, ``most_confused``, ``plot_confusion_matrix``, ``top_losses`` and
``plot_top_losses``.

Showing items is done by type, so every domain plugs in without this module knowing it: each decoded
input is drawn by its own ``show(ctx=ax, **kwargs)`` method (vision images draw themselves; a decoded
type of another domain gives itself a ``show`` that draws on the axis). Strings (decoded text) and
inputs without ``show`` are drawn as wrapped text snippets. Data whose loaders decode a batch into a
table (``show_results(..., show=False)`` returning a pandas DataFrame, as tabular data does) gets
that table back from ``plot_top_losses``, with ``loss`` and ``probability`` columns. Override
``Interpretation.show_input`` for more control.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from torchloom._plotting import subplots

__all__ = ["ClassificationInterpretation", "Interpretation"]


class Interpretation:
    """Predictions, targets, decoded predictions and per-item losses of one dataset, in dataset order."""

    def __init__(self, learn: Any, dl: Any, preds: Tensor, targs: Tensor, decoded: Tensor, losses: Tensor) -> None:
        self.learn, self.dl = learn, dl
        self.preds, self.targs, self.decoded, self.losses = preds, targs, decoded, losses

    @classmethod
    def from_learner(cls, learn: Any, ds_idx: int = 1, dl: Any = None, act: Any = None) -> Interpretation:
        """Predict ``dl`` (default: the validation set, ``ds_idx=1``) once and keep what is needed."""
        if dl is None:
            dl = learn.dls[ds_idx]
        preds, targs, decoded, losses = learn.get_preds(dl=dl, with_decoded=True, with_loss=True, act=act)
        if targs is None:
            raise ValueError(f"{cls.__name__}.from_learner needs a labelled dataset; the DataLoader has no targets")
        return cls(learn, dl, preds, targs, decoded, losses)

    def __len__(self) -> int:
        return len(self.losses)

    def top_losses(self, k: int | None = None, largest: bool = True) -> tuple[Tensor, Tensor]:
        """The ``k`` largest (or smallest) per-item losses and their dataset indices."""
        k = len(self.losses) if k is None else min(int(k), len(self.losses))
        return self.losses.topk(k, largest=largest)

    # -- showing items ----------------------------------------------------------------------------
    def decoded_items(self, idxs: Sequence[int]) -> Any:
        """``(inputs..., target, prediction)`` decoded for the dataset items ``idxs`` (in that order), or
        the table the loader decodes them to (tabular data).

        Uses the DataLoader's own pipeline (``new(get_idxs=...)``, ``show_results(show=False)``), so
        the items look exactly as ``show_batch`` shows them.
        """
        idxs = [int(i) for i in idxs]
        if not hasattr(self.dl, "new") or not hasattr(self.dl, "show_results"):
            raise TypeError(f"showing items needs torchloom's DataLoader (with .new and .show_results); "
                            f"{type(self.dl).__name__} has neither")
        sub = self.dl.new(get_idxs=lambda: idxs, shuffle=False, drop_last=False, bs=max(len(idxs), 1))
        b = next(iter(sub))
        return sub.show_results(b, self.decoded[idxs], max_n=len(idxs), show=False)

    def show_input(self, x: Any, ctx: Any, **kwargs: Any) -> Any:
        """Draw one decoded input on the axis ``ctx``: its own ``show`` if it has one, else wrapped text."""
        if hasattr(x, "show") and not isinstance(x, str):  # a str's show would only set the title
            return x.show(ctx=ctx, **kwargs)
        text = str(x) if isinstance(x, str) else _describe(x)
        ctx.text(0.02, 0.98, textwrap.fill(text, 40), va="top", ha="left", fontsize=8, family="monospace",
                 transform=ctx.transAxes, wrap=True)
        return ctx

    def label(self, o: Any) -> str:
        """A target or prediction as text (``Category`` labels stay as they are)."""
        if isinstance(o, Tensor):
            return str(o.item()) if o.numel() == 1 else f"{type(o).__name__}{tuple(o.shape)}"
        return str(o)

    def plot_top_losses(self, k: int = 9, largest: bool = True, nrows: int | None = None,
                        ncols: int | None = None, figsize: tuple[float, float] | None = None,
                        **kwargs: Any) -> Any:
        """The ``k`` items with the largest losses, each titled ``prediction/actual / loss / probability``;
        returns the figure (or, for data decoded to a table, the table with ``loss``/``probability``)."""
        import math

        losses, idxs = self.top_losses(k, largest)
        items = self.decoded_items(idxs.tolist())
        if hasattr(items, "iloc") and hasattr(items, "columns"):  # a DataFrame of decoded rows
            table = items.reset_index(drop=True).copy()
            table["loss"] = losses.tolist()
            table["probability"] = [self._prob(i) for i in idxs.tolist()]
            return table
        n = len(items)
        ncols = ncols or (math.ceil(n / nrows) if nrows else min(n, 3))
        nrows = nrows or math.ceil(n / ncols)
        fig, axs = subplots(nrows, ncols, figsize=figsize or (3.2 * ncols, 3.4 * nrows), squeeze=False,
                            what="plot_top_losses")
        axs = [ax for row in axs for ax in row]
        n_inp = getattr(self.dl, "n_inp", 1) or 1
        for ax, item, loss, i in zip(axs, items, losses.tolist(), idxs.tolist()):
            for x in item[:n_inp]:
                self.show_input(x, ax, **kwargs)
            targ, pred = item[n_inp], item[-1]
            prob = self._prob(i)
            title = f"{self.label(pred)}/{self.label(targ)}\n{loss:.2f}" + (f" / {prob:.2f}" if prob is not None else "")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        for ax in axs[n:]:
            ax.set_axis_off()
        fig.suptitle("prediction/actual / loss / probability", fontsize=10)
        fig.tight_layout()
        return fig

    def _prob(self, i: int) -> float | None:
        p = self.preds[i]
        d = self.decoded[i]
        if isinstance(p, Tensor) and p.ndim == 1 and isinstance(d, Tensor) and d.numel() == 1:
            return float(p[int(d)])
        return None


class ClassificationInterpretation(Interpretation):
    """Interpretation of a single-label classifier: confusion matrix and the most confused classes."""

    @property
    def vocab(self) -> list[Any]:
        """Class names (``dls.vocab``), or ``0..c-1`` when the data has no vocabulary."""
        v = getattr(self.learn.dls, "vocab", None)
        if v is None or len(v) == 0:
            return list(range(self.preds.shape[-1]))
        return list(v)

    def confusion_matrix(self) -> Tensor:
        """``n_classes x n_classes`` counts; row = actual class, column = predicted class."""
        n = len(self.vocab)
        t = self.targs.reshape(-1).long()
        d = self.decoded.reshape(-1).long()
        if t.numel() and (int(t.max()) >= n or int(d.max()) >= n):
            raise ValueError(f"confusion_matrix: class indices reach {max(int(t.max()), int(d.max()))} but the "
                             f"vocabulary has {n} classes")
        return torch.bincount(t * n + d, minlength=n * n).reshape(n, n)

    def most_confused(self, min_val: int = 1) -> list[tuple[Any, Any, int]]:
        """``(actual, predicted, count)`` for every off-diagonal cell with ``count >= min_val``, largest first."""
        cm, vocab = self.confusion_matrix(), self.vocab
        res = [(vocab[i], vocab[j], int(cm[i, j])) for i in range(len(vocab)) for j in range(len(vocab))
               if i != j and int(cm[i, j]) >= min_val]
        return sorted(res, key=lambda r: -r[2])

    def plot_confusion_matrix(self, normalize: bool = False, title: str = "Confusion matrix", cmap: str = "Blues",
                              norm_dec: int = 2, figsize: tuple[float, float] | None = None, **kwargs: Any) -> Any:
        """The confusion matrix as an annotated heat map (``normalize``: each row sums to 1); the figure."""
        cm = self.confusion_matrix().double()
        if normalize:
            cm = cm / cm.sum(1, keepdim=True).clamp(min=1)
        vocab = [str(v) for v in self.vocab]
        n = len(vocab)
        fig, ax = subplots(figsize=figsize or (max(4, 0.6 * n + 2),) * 2, what="plot_confusion_matrix")
        ax.imshow(cm.numpy(), interpolation="nearest", cmap=cmap, **kwargs)
        ax.set_title(title)
        ax.set_xticks(range(n), vocab, rotation=90)
        ax.set_yticks(range(n), vocab)
        thresh = float(cm.max()) / 2
        for i in range(n):
            for j in range(n):
                v = float(cm[i, j])
                ax.text(j, i, f"{v:.{norm_dec}f}" if normalize else f"{int(v)}", ha="center", va="center",
                        color="white" if v > thresh else "black", fontsize=8)
        ax.set_ylabel("Actual")
        ax.set_xlabel("Predicted")
        fig.tight_layout()
        return fig


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        if x.numel() <= 12:
            return str([round(v, 4) for v in x.float().reshape(-1).tolist()])
        return f"{type(x).__name__}{tuple(x.shape)}"
    if isinstance(x, dict):
        return "\n".join(f"{k}: {v}" for k, v in x.items())
    return str(x)
