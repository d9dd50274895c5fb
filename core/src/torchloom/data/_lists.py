"""``TfmdLists`` and ``Datasets``: lazily transformed, indexable item collections with train/valid splits."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from torch import Tensor

from torchloom._transform import Pipeline, TransformError, transform_error
from torchloom.data._dataloaders import DataLoaders, dsets_dataloaders

__all__ = ["TfmdLists", "Datasets", "as_items", "norm_splits"]


def as_items(items: Any) -> Any:
    """Something indexable with ``len``: lists, tuples, arrays, tensors, DataFrames kept; iterables listed."""
    if items is None:
        return []
    if hasattr(items, "iloc") or isinstance(items, (list, tuple, np.ndarray, Tensor, range)):
        return items
    if isinstance(items, Sequence) and not isinstance(items, (str, bytes)):
        return items
    if isinstance(items, (str, bytes, os.PathLike)):
        raise TypeError(f"items must be a collection, got the single item {items!r}")
    return list(items)


def _get_item(items: Any, i: int) -> Any:
    return items.iloc[i] if hasattr(items, "iloc") else items[i]


def norm_splits(splits: Any, n: int) -> list[list[int]]:
    """Splits as lists of int indices (boolean masks and slices accepted); out-of-range indices raise."""
    if splits is None:
        return [list(range(n)), []]
    res = []
    for k, s in enumerate(splits):
        if isinstance(s, slice):
            s = list(range(n))[s]
        elif isinstance(s, (Tensor, np.ndarray)):
            arr = s.cpu().numpy() if isinstance(s, Tensor) else s
            s = np.nonzero(arr)[0].tolist() if arr.dtype == bool else arr.tolist()
        else:
            s = list(s)
            if s and isinstance(s[0], (bool, np.bool_)):
                s = [i for i, m in enumerate(s) if m]
        bad = [i for i in s if not -n <= int(i) < n]
        if bad:
            raise IndexError(f"split {k} holds indices out of range for {n} items: {bad[:5]}")
        res.append([int(i) % n if n else int(i) for i in s])
    return res


def _item_context(item: Any) -> str:
    """A short description of an item: its path when it is (or holds) one."""
    path = None
    if isinstance(item, (os.PathLike, str)) and len(str(item)) < 300:
        path = item
    elif isinstance(item, (tuple, list)) and item and isinstance(item[0], os.PathLike):
        path = item[0]
    elif hasattr(item, "path"):
        path = item.path
    return f" (path {os.fspath(path)!s})" if isinstance(path, (os.PathLike, str)) else ""


class TfmdLists:
    """``items`` with a ``Pipeline`` applied lazily on indexing; ``splits`` give ``train``/``valid`` subsets.

    Setup runs on the training split (``train_setup``), each transform seeing the output of the earlier ones.
    """

    def __init__(self, items: Any, tfms: Any = None, splits: Any = None, split_idx: int | None = None,
                 do_setup: bool = True, train_setup: bool = True, idxs: list[int] | None = None) -> None:
        self.items = as_items(items)
        self.idxs = idxs
        n_all = len(self.items)
        self.splits = norm_splits(splits, n_all) if idxs is None else [list(range(len(idxs))), []]
        self.split_idx = split_idx
        self.tfms = tfms if isinstance(tfms, Pipeline) and tfms.split_idx == split_idx else \
            Pipeline(tfms, split_idx=split_idx)
        if do_setup:
            if len(self) == 0:
                raise ValueError("TfmdLists: there are no items (the dataset is empty)")
            if splits is not None and not self.splits[0]:
                raise ValueError(f"TfmdLists: the training split is empty (0 of {n_all} items); "
                                 "check the splits / splitter")
            self.setup(train_setup)

    def setup(self, train_setup: bool = True) -> None:
        self.tfms.setup(self, train_setup)

    # --- subsets -----------------------------------------------------------------------------------------
    def subset(self, i: int) -> TfmdLists:
        """The ``i``-th split (0 = train, 1 = valid) with the same transforms and ``split_idx=i``."""
        if i >= len(self.splits):
            raise IndexError(f"split {i} does not exist: there are {len(self.splits)} splits")
        idxs = self.splits[i] if self.idxs is None else [self.idxs[j] for j in self.splits[i]]
        return TfmdLists(self.items, Pipeline(self.tfms.fs, split_idx=i), split_idx=i, do_setup=False, idxs=idxs)

    @property
    def train(self) -> TfmdLists:
        return self.subset(0)

    @property
    def valid(self) -> TfmdLists:
        return self.subset(1)

    @property
    def n_subsets(self) -> int:
        return len(self.splits)

    def new(self, items: Any, split_idx: int | None = None, **kwargs: Any) -> TfmdLists:
        """Same transforms (no setup) over other items."""
        si = self.split_idx if split_idx is None else split_idx
        return TfmdLists(items, Pipeline(self.tfms.fs, split_idx=si), split_idx=si, do_setup=False, **kwargs)

    def new_empty(self) -> TfmdLists:
        return self.new([])

    # --- access ------------------------------------------------------------------------------------------
    def raw(self, i: int) -> Any:
        """The untransformed item ``i``."""
        return _get_item(self.items, self.idxs[i] if self.idxs is not None else i)

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        it = self.raw(i)
        try:
            return self.tfms(it)
        except TransformError as e:
            where = f"item {i}" if self.idxs is None else f"item {i} (index {self.idxs[i]} in the full items)"
            cause = e.__cause__ or e
            raise transform_error(f"{where}{_item_context(it)}: {e}", cause, transform=e.transform) from cause

    def __len__(self) -> int:
        return len(self.items) if self.idxs is None else len(self.idxs)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def decode(self, o: Any, full: bool = True) -> Any:
        return self.tfms.decode(o, full=full)

    def show(self, o: Any, ctx: Any = None, **kwargs: Any) -> Any:
        return self.tfms.show(o, ctx=ctx, **kwargs)

    def __getattr__(self, k: str) -> Any:
        # one level of delegation, to the pipeline's transforms (``tls.vocab``, ``tls.c``, ``tls.loss_func``)
        if k.startswith("_") or k in ("tfms", "items", "idxs", "splits"):
            raise AttributeError(k)
        return getattr(self.__dict__["tfms"], k) if "tfms" in self.__dict__ else _raise(k)

    def __repr__(self) -> str:
        return f"TfmdLists: {len(self)} items, {self.tfms!r}"


def _raise(k: str) -> Any:
    raise AttributeError(k)


class Datasets:
    """One ``TfmdLists`` per transform list over the same items; ``ds[i]`` is a tuple (x..., y...).

    ``Datasets(items, tfms=[[x tfms], [y tfms]], splits=(train_idx, valid_idx), n_inp=None)``.
    """

    def __init__(self, items: Any = None, tfms: Any = None, tls: list[TfmdLists] | None = None,
                 n_inp: int | None = None, splits: Any = None, split_idx: int | None = None, do_setup: bool = True,
                 train_setup: bool = True) -> None:
        if tls is None:
            items = as_items(items)
            if tfms is None:
                tfms = [None]
            elif not isinstance(tfms, (list, tuple)) or not tfms or not all(
                    t is None or isinstance(t, (list, tuple, Pipeline)) for t in tfms):
                raise TypeError("Datasets(tfms=...) expects one list of transforms per output, e.g. "
                                "[[x_tfms], [y_tfms]]")
            if do_setup and len(items) == 0:
                raise ValueError("Datasets: there are no items (the dataset is empty)")
            tls = [TfmdLists(items, t, splits=splits, split_idx=split_idx, do_setup=do_setup,
                             train_setup=train_setup) for t in tfms]
        self.tls = list(tls)
        self.n_inp = n_inp if n_inp is not None else max(1, len(self.tls) - 1)

    # --- subsets -----------------------------------------------------------------------------------------
    @property
    def splits(self) -> list[list[int]]:
        return self.tls[0].splits

    @property
    def split_idx(self) -> int | None:
        return self.tls[0].split_idx

    @property
    def items(self) -> Any:
        return self.tls[0].items

    def subset(self, i: int) -> Datasets:
        return Datasets(tls=[t.subset(i) for t in self.tls], n_inp=self.n_inp)

    @property
    def train(self) -> Datasets:
        return self.subset(0)

    @property
    def valid(self) -> Datasets:
        return self.subset(1)

    @property
    def n_subsets(self) -> int:
        return len(self.splits)

    def new(self, items: Any, split_idx: int | None = None, with_labels: bool = True, rm_type_tfms: int = 0
            ) -> Datasets:
        """The same (already set up) transforms over other items; ``with_labels=False`` keeps inputs only.

        ``rm_type_tfms`` drops that many leading transforms of each pipeline (items already past them, e.g.
        already-opened images instead of file paths).
        """
        tls = self.tls if with_labels else self.tls[:self.n_inp]
        items = as_items(items)
        new = []
        for t in tls:
            nt = t.new(items, split_idx=split_idx)
            if rm_type_tfms:
                nt.tfms.fs = nt.tfms.fs[rm_type_tfms:]
            new.append(nt)
        return Datasets(tls=new, n_inp=self.n_inp)

    def new_empty(self) -> Datasets:
        return self.new([])

    def dataloaders(self, bs: int = 64, shuffle: bool = True, val_bs: int | None = None, device: Any = None,
                    path: str = ".", **kwargs: Any) -> DataLoaders:
        """``DataLoaders`` over each split: the training one shuffled (drop_last), the others in order."""
        return dsets_dataloaders(self, path=path, bs=bs, shuffle=shuffle, val_bs=val_bs, device=device, **kwargs)

    @contextmanager
    def set_split_idx(self, i: int | None):
        """Temporarily apply the transforms as for split ``i`` (e.g. train-time augmentation for TTA)."""
        old = [(t.split_idx, t.tfms.split_idx) for t in self.tls]
        for t in self.tls:
            t.split_idx = t.tfms.split_idx = i
        try:
            yield self
        finally:
            for t, (a, b) in zip(self.tls, old):
                t.split_idx, t.tfms.split_idx = a, b

    # --- access ------------------------------------------------------------------------------------------
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        return tuple(t[i] for t in self.tls)

    def __len__(self) -> int:
        return len(self.tls[0])

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def decode(self, o: Any, full: bool = True) -> tuple:
        return tuple(t.decode(x, full=full) for x, t in zip(o, self.tls))

    def show(self, o: Any, ctx: Any = None, **kwargs: Any) -> Any:
        for x, t in zip(o, self.tls):
            ctx = t.show(x, ctx=ctx, **kwargs)
        return ctx

    @property
    def vocab(self) -> Any:
        """The vocab of the targets (the last transform list that has one)."""
        for t in reversed(self.tls):
            try:
                return t.tfms.vocab
            except AttributeError:
                continue
        raise AttributeError("no transform in these Datasets has a vocab")

    @property
    def loss_func(self) -> Any:
        """The loss the targets' transforms suggest (e.g. ``Categorize`` -> cross-entropy)."""
        for t in reversed(self.tls[self.n_inp:] or self.tls):
            try:
                lf = t.tfms.loss_func
            except AttributeError:
                continue
            return lf[-1] if isinstance(lf, list) else lf
        raise AttributeError("no target transform of these Datasets suggests a loss function")

    def __getattr__(self, k: str) -> Any:
        # gather ``k`` from the transform lists: one value, or a list when several have it
        if k.startswith("_") or k in ("tls", "n_inp"):
            raise AttributeError(k)
        vals = []
        for t in self.__dict__.get("tls", []):
            try:
                vals.append(getattr(t.tfms, k))
            except AttributeError:
                pass
        if not vals:
            raise AttributeError(f"'Datasets' object and its transforms have no attribute {k!r}")
        return vals[0] if len(vals) == 1 else vals

    def __repr__(self) -> str:
        return f"Datasets: {len(self)} items, n_inp={self.n_inp}, " + "; ".join(repr(t.tfms) for t in self.tls)
