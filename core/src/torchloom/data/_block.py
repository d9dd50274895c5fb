"""``DataBlock``: declare the blocks (types) of inputs and targets, how to get and split items; get loaders."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchloom._transform import Pipeline, Transform, mk_transform, transform_error
from torchloom.data._dataloaders import DataLoaders, dsets_dataloaders
from torchloom.data._getters import Getter
from torchloom.data._lists import Datasets
from torchloom.data._splitters import RandomSplitter
from torchloom.data._transforms import (
    Categorize,
    EncodedMultiCategorize,
    MultiCategorize,
    OneHotEncode,
    RegressionSetup,
)

__all__ = ["TransformBlock", "CategoryBlock", "MultiCategoryBlock", "RegressionBlock", "DataBlock"]


class TransformBlock:
    """What one input/target contributes: type transforms (per item), item transforms, batch transforms."""

    def __init__(self, type_tfms: Any = None, item_tfms: Any = None, batch_tfms: Any = None,
                 dls_kwargs: dict | None = None) -> None:
        self.type_tfms = _listify(type_tfms)
        self.item_tfms = _listify(item_tfms)
        self.batch_tfms = _listify(batch_tfms)
        self.dls_kwargs = dict(dls_kwargs or {})

    def __repr__(self) -> str:
        return f"TransformBlock(type_tfms={self.type_tfms}, item_tfms={self.item_tfms}, batch_tfms={self.batch_tfms})"


def _listify(o: Any) -> list:
    if o is None:
        return []
    if isinstance(o, Pipeline):
        return list(o.fs)
    if isinstance(o, (list, tuple)):
        return list(o)
    return [o]


def CategoryBlock(vocab: Any = None, sort: bool = True, add_na: bool = False) -> TransformBlock:
    """Single-label classification target."""
    return TransformBlock(type_tfms=Categorize(vocab=vocab, sort=sort, add_na=add_na))


def MultiCategoryBlock(encoded: bool = False, vocab: Any = None, add_na: bool = False) -> TransformBlock:
    """Multi-label target: a list of labels (or an already one-hot vector with ``encoded=True``)."""
    if encoded:
        if vocab is None:
            raise ValueError("MultiCategoryBlock(encoded=True) needs vocab= (the label of each column)")
        return TransformBlock(type_tfms=EncodedMultiCategorize(vocab=vocab))
    return TransformBlock(type_tfms=[MultiCategorize(vocab=vocab, add_na=add_na), OneHotEncode()])


def RegressionBlock(n_out: int | None = None) -> TransformBlock:
    """Float regression target(s)."""
    return TransformBlock(type_tfms=RegressionSetup(c=n_out))


def _as_block(b: Any) -> TransformBlock:
    if isinstance(b, TransformBlock):
        return b
    if callable(b):
        res = b()
        if isinstance(res, TransformBlock):
            return res
    raise TypeError(f"blocks must be TransformBlocks (or functions returning one), got {b!r}")


def _merge_tfms(*tfm_lists: list) -> list:
    """Concatenate transform lists, keeping only the last transform of each class (user tfms override)."""
    res: dict[Any, Any] = {}
    for lst in tfm_lists:
        for t in lst:
            t = mk_transform(t)
            key = type(t) if type(t) is not Transform else id(t)
            res.pop(key, None)
            res[key] = t
    return list(res.values())


def _getter(f: Any) -> Any:
    """A getter takes the whole item (a tuple/row is not mapped element-wise)."""
    if f is None or isinstance(f, (Transform, Pipeline)):
        return f
    if not callable(f):
        raise TypeError(f"getters must be callables, got {f!r}")
    return Getter(f)


class DataBlock:
    """A recipe for ``Datasets``/``DataLoaders``: blocks, ``get_items``, ``splitter``, ``get_x``/``get_y``."""

    def __init__(self, blocks: Any = None, get_items: Callable | None = None, splitter: Callable | None = None,
                 get_x: Any = None, get_y: Any = None, getters: list | None = None, item_tfms: Any = None,
                 batch_tfms: Any = None, n_inp: int | None = None) -> None:
        blocks = [TransformBlock()] * 2 if blocks is None else _listify(blocks)
        self.blocks = [_as_block(b) for b in blocks]
        if not self.blocks:
            raise ValueError("DataBlock needs at least one block")
        self.n_inp = n_inp if n_inp is not None else max(1, len(self.blocks) - 1)
        if not 1 <= self.n_inp <= len(self.blocks):
            raise ValueError(f"n_inp={self.n_inp} but there are {len(self.blocks)} blocks")
        self.get_items = get_items
        self.splitter = splitter if splitter is not None else RandomSplitter()
        self.getters = [None] * len(self.blocks) if getters is None else list(getters)
        if len(self.getters) != len(self.blocks):
            raise ValueError(f"{len(self.getters)} getters for {len(self.blocks)} blocks")
        n_tgt = len(self.blocks) - self.n_inp
        self.get_x, self.get_y = get_x, get_y
        if get_x is not None:
            gx = get_x if isinstance(get_x, (list, tuple)) else [get_x]
            if len(gx) != self.n_inp:
                raise ValueError(f"get_x has {len(gx)} function(s) for {self.n_inp} input(s); "
                                 "pass a list with one function per input (or wrap several in a Pipeline)")
            self.getters[:self.n_inp] = gx
        if get_y is not None:
            gy = get_y if isinstance(get_y, (list, tuple)) else [get_y]
            if len(gy) != n_tgt:
                raise ValueError(f"get_y has {len(gy)} function(s) for {n_tgt} target(s); "
                                 "pass a list with one function per target (or wrap several in a Pipeline)")
            self.getters[self.n_inp:] = gy
        self.type_tfms = [b.type_tfms for b in self.blocks]
        self.default_item_tfms = _merge_tfms(*[b.item_tfms for b in self.blocks])
        self.default_batch_tfms = _merge_tfms(*[b.batch_tfms for b in self.blocks])
        self.item_tfms = _merge_tfms(self.default_item_tfms, _listify(item_tfms))
        self.batch_tfms = _merge_tfms(self.default_batch_tfms, _listify(batch_tfms))
        self.dls_kwargs: dict = {}
        for b in self.blocks:
            self.dls_kwargs.update(b.dls_kwargs)

    # --- building ----------------------------------------------------------------------------------------
    def _items(self, source: Any) -> Any:
        items = self.get_items(source) if self.get_items is not None else source
        if items is None:
            raise ValueError(f"get_items returned None for source {source!r}")
        try:
            n = len(items)
        except TypeError:
            items = list(items)
            n = len(items)
        if n == 0:
            where = f"get_items ({getattr(self.get_items, '__name__', self.get_items)!s}) found" \
                if self.get_items is not None else "the source has"
            raise ValueError(f"DataBlock: {where} no items in {source!r}")
        return items

    def _splits(self, items: Any) -> list:
        splits = self.splitter(items)
        name = getattr(self.splitter, "__qualname__", repr(self.splitter)).split(".<locals>")[0]
        if len(splits) < 2:
            raise ValueError(f"splitter {name} returned {len(splits)} split(s); it must return (train, valid)")
        if len(splits[0]) == 0:
            raise ValueError(f"splitter {name} left the training set empty ({len(items)} items in all); "
                             "adjust the splitter (e.g. valid_pct, folder names) so training gets items")
        # an empty validation set is allowed (``IndexSplitter([])``, ``valid_pct=0``): fit then skips
        # validation and reports its loss and metrics as NaN, as fastai
        return splits

    def _tfms(self) -> list[list]:
        return [[g for g in [_getter(gt)] if g is not None] + list(tt) for gt, tt in zip(self.getters, self.type_tfms)]

    def datasets(self, source: Any, verbose: bool = False) -> Datasets:
        """Items from ``source`` -> split -> ``Datasets`` with each block's getter + type transforms (set up)."""
        items = self._items(source)
        splits = self._splits(items)
        if verbose:
            print(f"Collecting items from {source}\nFound {len(items)} items\n"
                  f"{len(splits)} datasets of sizes {','.join(str(len(s)) for s in splits)}")
        return Datasets(items, tfms=self._tfms(), splits=splits, n_inp=self.n_inp)

    def dataloaders(self, source: Any, path: str = ".", bs: int = 64, shuffle: bool = True,
                    val_bs: int | None = None, device: Any = None, verbose: bool = False, **kwargs: Any
                    ) -> DataLoaders:
        """``DataLoaders`` (train shuffled with drop_last, then valid) with the item and batch transforms."""
        dsets = self.datasets(source, verbose=verbose)
        kw = {**self.dls_kwargs, **kwargs}
        return dsets_dataloaders(dsets, path=path, bs=bs, shuffle=shuffle, val_bs=val_bs, device=device,
                                 after_item=self.item_tfms, after_batch=self.batch_tfms, **kw)

    # --- diagnosis ---------------------------------------------------------------------------------------
    def summary(self, source: Any, bs: int = 4, show_batch: bool = False, print_fn: Callable = print,
                **kwargs: Any) -> None:
        """Print every step on one sample and on a small batch; the step that fails is named, then re-raised."""
        p = print_fn
        items = self._items(source)
        src = repr(source) if len(repr(source)) < 100 else f"a {type(source).__name__}"
        p(f"Setting-up type transforms pipelines\nCollecting items from {src}\nFound {len(items)} items")
        splits = self._splits(items)
        p(f"{len(splits)} datasets of sizes {','.join(str(len(s)) for s in splits)}")
        dsets = Datasets(items, tfms=self._tfms(), splits=splits, n_inp=self.n_inp)
        for k, tl in enumerate(dsets.tls):
            p(f"Setting up Pipeline {k}: {tl.tfms!r}")
        item = dsets.train.tls[0].raw(0)
        p(f"\nBuilding one sample (train item 0: {item!r})")
        outs = []
        for k, tl in enumerate(dsets.train.tls):
            p(f"  Pipeline {k}: {tl.tfms!r}")
            p(f"    starting from\n      {_short(item)}")
            outs.append(_apply_traced(p, tl.tfms.fs, item, "    ", "transform", f" of pipeline {k}"))
        p(f"\nFinal sample: {_short(tuple(outs))}")
        dls = dsets_dataloaders(dsets, bs=bs, shuffle=False, after_item=self.item_tfms,
                                after_batch=self.batch_tfms, **{**self.dls_kwargs, **kwargs})
        dl = dls.train
        p(f"\nCollecting one batch of size {bs}\nApplying item_tfms to the first sample:")
        _apply_traced(p, dl.after_item.fs, dsets.train[0], "  ", "item transform")
        try:
            b = dl.one_batch()
        except Exception as e:
            p(f"  building the batch failed: {type(e).__name__}: {e}")
            raise
        p(f"\nBatch (after batch_tfms {dl.after_batch!r}):\n  {_short(b)}")
        if show_batch:
            dls.show_batch(b)


def _apply_traced(p: Callable[[str], Any], tfms: list, o: Any, indent: str, kind: str, where: str = "") -> Any:
    """Apply ``tfms`` (train split) to train item 0, printing each result; a failure names the transform."""
    for t in tfms:
        try:
            o = t(o, split_idx=0)
        except Exception as e:
            p(f"{indent}applying {t.name} failed: {type(e).__name__}: {e}")
            raise transform_error(f"summary: {kind} {t.name!r}{where} failed on train item 0: "
                                  f"{type(e).__name__}: {e}", e, transform=t) from e
        p(f"{indent}applying {t.name} gives\n{indent}  {_short(o)}")
    return o


def _short(o: Any) -> str:
    from torch import Tensor

    if isinstance(o, Tensor):
        return f"{type(o).__name__} of shape {tuple(o.shape)}, dtype {o.dtype}"
    if isinstance(o, tuple):
        return "(" + ", ".join(_short(x) for x in o) + ")"
    r = f"{o!r} ({type(o).__name__})"
    return r if len(r) < 200 else r[:197] + "..."
