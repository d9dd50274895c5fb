"""``learn.summary()``: layers with output shapes and parameter counts, what is frozen, and which
loss, optimizer, callbacks and plugins a Learner runs with.

The output shapes come from one real batch of the training data pushed through the model (eval
mode, no gradients, the model's train/eval state restored afterwards).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from torchloom._learner import Learner

__all__ = ["LayerRow", "ModelSummary", "model_summary"]


@dataclass
class LayerRow:
    """One line of the table: a module that holds parameters or has no children."""

    name: str
    type: str
    output_shape: str
    params: int
    trainable: str  # "True", "False", "partial" or "" (no parameters)


class ModelSummary(str):
    """The summary text (shown as is in a REPL or notebook), with the numbers as attributes."""

    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    input_shape: str

    def __repr__(self) -> str:
        return str(self)


def _shape(o: Any) -> str:
    if isinstance(o, Tensor):
        return " x ".join(str(d) for d in o.shape)
    if isinstance(o, (tuple, list)):
        return "(" + ", ".join(_shape(x) for x in o) + ")"
    if isinstance(o, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in o.items()) + "}"
    return type(o).__name__


def _fmt_name(o: Any) -> str:
    o = getattr(o, "func", o)
    return getattr(o, "__name__", None) or type(o).__name__


def _first_batch(learn: Any) -> tuple[Any, ...]:
    dl = getattr(learn.dls, "train", None)
    if dl is None:
        raise ValueError("learn.summary needs learn.dls.train to take one batch from")
    b = dl.one_batch() if hasattr(dl, "one_batch") else next(iter(dl), None)
    if b is None:
        raise ValueError("learn.summary: the training DataLoader is empty, so no batch can show the shapes")
    b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
    n = getattr(learn.dls, "n_inp", None) or (1 if len(b) == 1 else len(b) - 1)
    return b[:n]


def model_summary(learn: Learner) -> ModelSummary:
    """Layers with output shapes and parameter counts, frozen/trainable, loss, optimizer, callbacks and
    plugins (one training batch is run through the model in eval mode to get the shapes)."""
    from torchloom._tensors import to_device

    model: nn.Module = learn.model
    if not isinstance(model, nn.Module):
        raise TypeError(f"learn.summary needs an nn.Module model, got {type(model).__name__}")
    xb = _first_batch(learn)
    p = next(model.parameters(), None)
    if p is not None:
        xb = to_device(xb, p.device)
    xb = tuple(x.as_subclass(Tensor) if isinstance(x, Tensor) else x for x in xb)
    picked = [(n, m) for n, m in model.named_modules()
              if not list(m.children()) or any(True for _ in m.parameters(recurse=False))]
    shapes: dict[int, str] = {}

    def record(mod: nn.Module, inp: Any, out: Any) -> None:  # returns None: the output is left alone
        shapes.setdefault(id(mod), _shape(out))

    hooks = [m.register_forward_hook(record) for _, m in picked]
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            out = model(*xb)
    finally:
        for h in hooks:
            h.remove()
        for m, mode in modes:
            m.training = mode
    rows = []
    for name, m in picked:
        ps = list(m.parameters(recurse=not list(m.children())))
        n = sum(q.numel() for q in ps)
        flags = {q.requires_grad for q in ps}
        trainable = "" if not ps else ("True" if flags == {True} else "False" if flags == {False} else "partial")
        rows.append(LayerRow(name or type(m).__name__, type(m).__name__, shapes.get(id(m), "-"), n, trainable))
    total = sum(q.numel() for q in model.parameters())
    train = sum(q.numel() for q in model.parameters() if q.requires_grad)
    text = _render(learn, rows, _shape(xb[0] if len(xb) == 1 else xb), _shape(out), total, train)
    res = ModelSummary(text)
    res.rows, res.total_params, res.trainable_params, res.input_shape = rows, total, train, _shape(xb)
    return res


def _render(learn: Any, rows: list[LayerRow], inp: str, out: str, total: int, train: int) -> str:
    heads = ("Layer", "Type", "Output Shape", "Param #", "Trainable")
    cells = [(r.name, r.type, r.output_shape, f"{r.params:,}", r.trainable) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(heads)]
    line = "=" * (sum(widths) + 2 * (len(widths) - 1))

    def fmt(c: tuple[str, ...]) -> str:
        return "  ".join(x.ljust(w) for x, w in zip(c, widths)).rstrip()

    lines = [f"{type(learn.model).__name__} (input shape: {inp}, output shape: {out})", line, fmt(heads), line]
    lines += [fmt(c) for c in cells]
    lines += [line, f"Total params: {total:,}", f"Trainable params: {train:,}",
              f"Frozen (non-trainable) params: {total - train:,}", ""]
    opt = learn.opt_func if isinstance(learn.opt_func, str) else _fmt_name(learn.opt_func)
    lines.append(f"Optimizer: {opt}")
    lines.append(f"Loss function: {learn.loss_func!r}" if not hasattr(learn.loss_func, "__name__")
                 else f"Loss function: {_fmt_name(learn.loss_func)}")
    opt_obj = learn.opt
    if opt_obj is not None and hasattr(opt_obj, "frozen_idx"):
        lines.append(f"Frozen up to parameter group #{opt_obj.frozen_idx}")
    if learn.metrics:
        lines.append("Metrics: " + ", ".join(m.name for m in learn.metrics))
    lines.append("")
    lines.append("Callbacks (in order):")
    for cb in learn.cbs:
        lines.append(f"  - {cb.name} ({type(cb).__name__})")
    used = learn.plugins_used
    lines.append("Plugins in use: " + (", ".join(f"{n} ({d['dist']} {d['version']})" for n, d in sorted(used.items()))
                                       if used else "none"))
    return "\n".join(lines)
