"""Semantic typed tensors and the small helpers that move, strip and show them.

A ``TensorBase`` subclass (``TensorImage``, ``TensorCategory``...) tells transforms and ``show`` what a tensor
*means*. Ops keep the subtype and its metadata (the instance ``__dict__``), ops that mix unrelated subtypes
work (the left-most/most-derived operand wins), and the hot path is kept lean: torch runs the op with subclass
handling disabled and only tensor results are re-wrapped with ``as_subclass``.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "TensorBase", "TensorCategory", "TensorMultiCategory", "to_plain", "to_device", "retain_type",
    "retain_types", "retain_meta", "show_title", "show_image", "TitledStr", "TitledInt", "TitledFloat",
    "ShowTitle", "default_device",
]

_DisableSubclass = torch._C.DisableTorchFunctionSubclass
_is_compiling = torch.compiler.is_compiling
# functions whose result must never be re-wrapped (they return the tensor's *parts* or plain values)
_NO_WRAP = {Tensor.__repr__, Tensor.__format__, Tensor.as_subclass, Tensor.numpy, Tensor.tolist, Tensor.item}


def _first_meta(args: tuple) -> dict | None:
    """The ``__dict__`` of the first typed argument that carries metadata (looks one level into lists)."""
    for a in args:
        if isinstance(a, TensorBase):
            if a.__dict__:
                return a.__dict__
        elif isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, TensorBase) and b.__dict__:
                    return b.__dict__
    return None


def _wrap(res: Any, cls: type, meta: dict | None) -> Any:
    if isinstance(res, Tensor):
        if type(res) is Tensor:
            res = res.as_subclass(cls)
            if meta:
                res.__dict__.update(meta)
        return res
    if isinstance(res, (tuple, list)):
        return type(res)(_wrap(r, cls, meta) for r in res)
    return res


class TensorBase(Tensor):
    """A ``torch.Tensor`` that keeps its subtype and metadata through torch ops.

    ``TensorBase(x, **meta)`` accepts tensors, arrays, lists or numbers; keyword arguments become metadata
    (attributes in the instance ``__dict__``) that ops propagate as a shallow copy. Subtypes that can be
    displayed define ``show(ctx=None, **kwargs) -> ctx`` (decoding stops at the first showable type).
    """

    def __new__(cls, x: Any = None, /, **kwargs: Any) -> TensorBase:
        if x is None:
            x = torch.empty(0)
        elif not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        res = x.as_subclass(cls)
        if isinstance(x, TensorBase) and x.__dict__:
            res.__dict__.update(x.__dict__)  # re-typing keeps the metadata
        if kwargs:
            res.__dict__.update(kwargs)
        return res

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # torch's __init__ takes no arguments
        pass

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        # Fast path: run the op as on plain tensors, then re-wrap tensor results only. ``cls`` is the type
        # torch picked (subclasses before their parents, otherwise the left-most operand), so unrelated
        # subtypes mix without raising.
        with _DisableSubclass():
            res = func(*args, **kwargs) if kwargs else func(*args)
        if func in _NO_WRAP or _is_compiling():  # under torch.compile ops return plain tensors
            return res
        if type(res) is Tensor:
            a0 = args[0] if args else None
            meta = a0.__dict__ if isinstance(a0, TensorBase) else _first_meta(args)
            res = res.as_subclass(cls)
            if meta:
                res.__dict__.update(meta)
            return res
        if isinstance(res, (tuple, list)):
            return _wrap(res, cls, _first_meta(args))
        return res

    def __deepcopy__(self, memo: dict) -> TensorBase:
        if id(self) in memo:
            return memo[id(self)]
        with torch.no_grad():
            new = self.as_subclass(Tensor).clone().as_subclass(type(self))
        new.requires_grad_(self.requires_grad)
        memo[id(self)] = new
        if self.__dict__:
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __repr__(self) -> str:
        return super().__repr__().replace("tensor", type(self).__name__, 1)

    def set_meta(self, other: Any, as_copy: bool = False) -> TensorBase:
        """Copy ``other``'s metadata onto this tensor (shallow; ``as_copy`` copies each value)."""
        d = getattr(other, "__dict__", None)
        if d:
            self.__dict__.update({k: copy.copy(v) for k, v in d.items()} if as_copy else d)
        return self



class TensorCategory(TensorBase):
    """Integer class index (or a batch of them)."""


class TensorMultiCategory(TensorCategory):
    """Multi-label target: a one-hot / multi-hot vector (or encoded indices before one-hot)."""


def to_plain(x: Any) -> Any:
    """Strip every tensor subtype (recursively through tuples, lists and dicts) without copying data."""
    if isinstance(x, Tensor):
        return x if type(x) is Tensor else x.as_subclass(Tensor)
    if isinstance(x, tuple):
        if hasattr(x, "_fields"):
            return type(x)(*(to_plain(o) for o in x))
        return type(x)(to_plain(o) for o in x) if type(x) is not tuple else tuple(to_plain(o) for o in x)
    if isinstance(x, list):
        return [to_plain(o) for o in x]
    if isinstance(x, Mapping):
        return {k: to_plain(v) for k, v in x.items()}
    return x


def to_device(b: Any, device: torch.device | str | None = None, non_blocking: bool = False) -> Any:
    """Move every tensor in ``b`` (recursively) to ``device``, keeping subtypes; ``None`` leaves ``b`` alone."""
    if device is None:
        return b
    if isinstance(b, Tensor):
        return b.to(device, non_blocking=non_blocking)
    if isinstance(b, tuple):
        if hasattr(b, "_fields"):
            return type(b)(*(to_device(o, device, non_blocking) for o in b))
        res = tuple(to_device(o, device, non_blocking) for o in b)
        return res if type(b) is tuple else type(b)(res)
    if isinstance(b, list):
        return [to_device(o, device, non_blocking) for o in b]
    if isinstance(b, Mapping):
        return {k: to_device(v, device, non_blocking) for k, v in b.items()}
    return b


def default_device(use: bool | None = None) -> torch.device:
    """CUDA when available (and ``use`` is not False), else CPU."""
    if use is not False and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def retain_meta(new: Any, old: Any) -> Any:
    """Give ``new`` the metadata of ``old`` when it has none of its own."""
    d = getattr(old, "__dict__", None)
    if d and isinstance(new, TensorBase) and not new.__dict__:
        new.__dict__.update(d)
    return new


def retain_type(new: Any, old: Any = None, typ: type | None = None) -> Any:
    """Cast ``new`` back to ``old``'s type when ``new`` is an instance of one of its parents (upcast only).

    fastai's rule: a transform that returns a plain ``Tensor`` for a ``TensorImage`` gives back a
    ``TensorImage``; a result of an unrelated (or more specific) type is left alone.
    """
    if new is None:
        return new
    if typ is None:
        if old is None:
            return new
        typ = type(old)
    tn = type(new)
    if tn is typ or not isinstance(new, Tensor) or not issubclass(typ, tn):
        if isinstance(new, tuple) and typ is not tuple and issubclass(typ, tuple) and issubclass(typ, tn):
            try:
                return typ(new)
            except TypeError:
                return new
        return new
    res = new.as_subclass(typ)
    if old is not None:
        d = getattr(old, "__dict__", None)
        if d:
            res.__dict__.update(d)
    return res


def retain_types(new: Any, old: Any = None, typs: Any = None) -> Any:
    """``retain_type`` applied element-wise through (nested) tuples."""
    if isinstance(new, tuple) and not isinstance(new, Tensor):
        olds = old if isinstance(old, tuple) else (None,) * len(new)
        ts = typs if isinstance(typs, (tuple, list)) else (None,) * len(new)
        res = tuple(retain_types(n, o, t) for n, o, t in zip(new, olds, ts))
        tt = type(old) if isinstance(old, tuple) else type(new)
        return res if tt is tuple else retain_type(res, typ=tt)
    return retain_type(new, old, typs if isinstance(typs, type) else None)


# --- showing -------------------------------------------------------------------------------------------


class ShowTitle:
    """Mixin for decoded values that show themselves as a title (``Category`` labels, floats, ints)."""

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        return show_title(str(self), ctx=ctx, **kwargs)


class TitledStr(str, ShowTitle):
    """A string that shows as a title."""


class TitledInt(int, ShowTitle):
    """An int that shows as a title."""


class TitledFloat(float, ShowTitle):
    """A float that shows as a title (e.g. a decoded regression target)."""


def show_title(o: Any, ax: Any = None, ctx: Any = None, label: str | None = None, color: str = "black",
               **kwargs: Any) -> Any:
    """Put ``o`` as the title of the matplotlib axis ``ctx`` (or print it when ``ctx`` is a list / None)."""
    ax = ax if ax is not None else ctx
    if isinstance(ax, list):  # a text context: collect the strings
        ax.append(str(o))
        return ax
    if ax is None:
        from torchloom._plotting import pyplot

        ax = pyplot("show_title").gca()
    title = ax.get_title()
    ax.set_title(f"{title}\n{o}" if title else str(o), color=color)
    return ax


def show_image(im: Any, ax: Any = None, figsize: tuple | None = None, title: str | None = None,
               ctx: Any = None, **kwargs: Any) -> Any:
    """Show an image tensor (CHW or HW, float 0-1 or uint8) on a matplotlib axis; returns the axis."""
    from torchloom._plotting import subplots

    ax = ax if ax is not None else ctx
    if isinstance(im, Tensor):
        im = to_plain(im).detach().cpu()
        if im.ndim == 3 and im.shape[0] < 5:
            im = im.permute(1, 2, 0)
        if im.ndim == 3 and im.shape[-1] == 1:
            im = im[..., 0]
        im = im.numpy()
    if ax is None:
        _, ax = subplots(figsize=figsize, what="show_image")
    ax.imshow(im, **kwargs)
    if title is not None:
        ax.set_title(title)
    ax.axis("off")
    return ax


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether two devices are the same one (``cuda`` and ``cuda:0`` are, when device 0 is current)."""
    if a.type != b.type:
        return False
    if a.index == b.index or a.type == "cpu":
        return True
    cur = torch.cuda.current_device() if a.type == "cuda" and torch.cuda.is_available() else 0
    return (a.index if a.index is not None else cur) == (b.index if b.index is not None else cur)


def batch_to_device(b: Any, dev: torch.device) -> Any:
    """``b`` (tensors in tuples, lists, dicts) on ``dev``; tensors already there are not copied."""
    if isinstance(b, torch.Tensor):
        return b if same_device(b.device, dev) else b.to(dev, non_blocking=True)
    if isinstance(b, (tuple, list)):
        return type(b)(batch_to_device(o, dev) for o in b)
    if isinstance(b, dict):
        return {k: batch_to_device(v, dev) for k, v in b.items()}
    return b
