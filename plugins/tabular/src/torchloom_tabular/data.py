"""``TabDataLoader`` (batches gathered from column tensors by index) and ``TabularDataLoaders``."""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from torchloom import DataLoader, DataLoaders, RandomSplitter, to_device

from .core import TabularPandas, TabularSplit
from .export import batch_types

__all__ = ["TabDataLoader", "TabularDataLoaders", "show_frame"]


def show_frame(df: pd.DataFrame) -> None:
    """Display a DataFrame: rich output in a notebook, plain text elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(df)
            return
    except ImportError:
        pass
    print(df.to_string())


class TabDataLoader(DataLoader):
    """A kernel ``DataLoader`` over a ``TabularSplit`` whose batches are gathered whole from column tensors.

    Each batch is one ``index_select`` per tensor (categorical codes, continuous values, targets) -- no
    Python work per row -- so ``num_workers`` is not needed and ignored. Shuffling, ``drop_last``, ``seed``,
    ``device`` and ``after_batch`` behave as in the kernel loader, and so does rank sharding under
    ``learn.use("ddp")``: every rank draws the same seeded permutation and gathers its
    ``DistributedSampler``-style share (training shards padded or cut to equal size, validation not).
    """

    shards_by_rank = True  # under ``learn.use("ddp")`` each rank gathers its shard of the epoch order

    def __iter__(self) -> Iterator[Any]:
        ds = self.dataset
        if not isinstance(ds, TabularSplit):
            yield from super().__iter__()
            return
        n = self.n
        if n == 0:
            raise ValueError("TabDataLoader: there are no rows to load")
        if self.shard is None and self.drop_last and n < self.bs:
            raise ValueError(f"TabDataLoader: drop_last=True with bs={self.bs} > {n} rows leaves no batch")
        self._epoch = getattr(self, "_epoch", -1) + 1
        # the kernel's epoch order, cut to this rank's shard under DDP (same seeded permutation on every rank)
        order = self.epoch_indices()
        m, bs = len(order), self.bs
        nb = m // bs if self.drop_last else math.ceil(m / bs)
        idxs: torch.Tensor | None = torch.as_tensor(order, dtype=torch.long)
        if self.shard is None and not self.shuffle and m == len(ds) and bool((idxs == torch.arange(m)).all()):
            idxs = None  # rows in order: each batch is a slice (a view, no copy)
        dev, ab = self.device, self.after_batch
        for b in range(nb):
            batch = ds.batch(slice(b * bs, min((b + 1) * bs, m)) if idxs is None else idxs[b * bs:(b + 1) * bs])
            if dev is not None:
                batch = to_device(batch, dev)
            yield ab(batch) if ab.fs else batch

    @property
    def tabular(self) -> TabularPandas:
        return self.dataset.to

    def decode_batch(self, b: Any, max_n: int = 10, full: bool = True) -> pd.DataFrame:
        """The first ``max_n`` rows of batch ``b`` decoded to a DataFrame (labels, original numbers, target)."""
        to = self.tabular
        b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
        cats = b[0][:max_n]
        conts = b[1][:max_n] if to.with_cont else None
        rest = b[to.n_inp:]
        return to.decode(cats, conts, rest[0][:max_n] if rest and to.y_names else None)

    def show_batch(self, b: Any = None, max_n: int = 10, ctxs: Any = None, show: bool = True,
                   **kwargs: Any) -> pd.DataFrame:
        """A DataFrame of decoded rows (displayed when ``show``; returned either way)."""
        df = self.decode_batch(self.one_batch() if b is None else b, max_n=max_n)
        if show:
            show_frame(df)
        return df

    def show_results(self, b: Any, out: Any, max_n: int = 10, ctxs: Any = None, show: bool = True,
                     **kwargs: Any) -> pd.DataFrame:
        """Decoded rows with their target and a ``<target>_pred`` column."""
        to = self.tabular
        df = self.decode_batch(b, max_n=max_n)
        out = out[0] if isinstance(out, (tuple, list)) else out
        name = to.y_names[0] if len(to.y_names) == 1 else "target"
        df[f"{name}_pred"] = to.decode_y(out[:max_n])
        if show:
            show_frame(df)
        return df


class TabularDataLoaders(DataLoaders):
    """Train/valid ``TabDataLoader``s over a ``TabularPandas`` (fastai's ``TabularDataLoaders``)."""

    @classmethod
    def from_tabular(cls, to: TabularPandas, bs: int = 64, shuffle_train: bool = True, val_bs: int | None = None,
                     device: Any = None, path: Any = ".", seed: int | None = None, **kwargs: Any
                     ) -> TabularDataLoaders:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        train = TabDataLoader(to.train, bs=bs, shuffle=shuffle_train, drop_last=shuffle_train, device=device,
                              seed=seed, **kwargs)
        loaders = [train]
        if len(to.splits) > 1:
            loaders += [train.new(to.subset(i), bs=val_bs or bs, shuffle=False, drop_last=False)
                        for i in range(1, len(to.splits))]
        for dl in loaders:
            dl.types = batch_types(to)
        dls = cls(*loaders, path=path)
        dls.tabular = to
        return dls

    @classmethod
    def from_df(cls, df: pd.DataFrame, path: Any = ".", procs: Any = None, cat_names: Any = None,
                cont_names: Any = None, y_names: Any = None, y_block: Any = None, valid_idx: Any = None,
                bs: int = 64, shuffle_train: bool = True, val_bs: int | None = None, device: Any = None,
                valid_pct: float = 0.2, seed: int | None = None, splits: Any = None, **kwargs: Any
                ) -> TabularDataLoaders:
        """Process ``df`` (procs default to ``[Categorify, FillMissing, Normalize]``) and build the loaders.

        Validation rows: ``splits`` if given, else ``valid_idx`` (row positions), else a random ``valid_pct``.
        ``cont_names`` defaults to every column not named as categorical or target.
        """
        from .procs import Categorify, FillMissing, Normalize

        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"TabularDataLoaders.from_df needs a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("TabularDataLoaders.from_df: the DataFrame is empty (0 rows)")
        cat_names = [] if cat_names is None else cat_names
        ys = [y_names] if isinstance(y_names, str) else list(y_names or [])
        if cont_names is None:
            cats = [cat_names] if isinstance(cat_names, str) else list(cat_names)
            cont_names = [c for c in df.columns if c not in set(cats) | set(ys)]
        if procs is None:
            procs = [Categorify, FillMissing, Normalize]
        if splits is None:
            if valid_idx is None:
                splits = RandomSplitter(valid_pct, seed=seed)(range(len(df)))
            else:
                valid = np.asarray(list(valid_idx), dtype=np.int64)
                mask = np.ones(len(df), dtype=bool)
                mask[valid] = False
                splits = (np.nonzero(mask)[0], valid)
        to = TabularPandas(df, procs, cat_names, cont_names, ys, y_block=y_block, splits=splits)
        return cls.from_tabular(to, bs=bs, shuffle_train=shuffle_train, val_bs=val_bs, device=device, path=path,
                                seed=seed, **kwargs)

    @classmethod
    def from_csv(cls, csv: str | os.PathLike, skipinitialspace: bool = True, **kwargs: Any) -> TabularDataLoaders:
        """``from_df(pd.read_csv(csv), ...)``; a missing file raises naming it."""
        csv = Path(csv)
        if not csv.is_file():
            raise FileNotFoundError(f"TabularDataLoaders.from_csv: no such file {csv}")
        return cls.from_df(pd.read_csv(csv, skipinitialspace=skipinitialspace), **kwargs)

    # -- fastai-style accessors -------------------------------------------------------------------------
    @property
    def cat_names(self) -> list[str]:
        return self.tabular.cat_names

    @property
    def cont_names(self) -> list[str]:
        return self.tabular.cont_names

    @property
    def y_names(self) -> list[str]:
        return self.tabular.y_names

    @property
    def procs(self) -> list:
        return self.tabular.procs

    @property
    def classes(self) -> dict[str, list]:
        return self.tabular.classes

    @property
    def vocab(self) -> Any:
        return self.train_ds.vocab

    @property
    def c(self) -> int:
        return self.tabular.c

    # -- new data ---------------------------------------------------------------------------------------
    def test_dl(self, items: Any, rm_type_tfms: int | None = None, with_labels: bool | None = None,
                **kwargs: Any) -> TabDataLoader:
        """A loader over new rows (a DataFrame, a dict or a Series), processed as the training rows were:
        unseen categories and missing values map to ``#na#`` / the training fill values."""
        new = self.tabular.new(items, with_labels=with_labels)
        src = self.valid if len(self.loaders) > 1 else self.train
        dl = src.new(new.all_rows(), **{"shuffle": False, "drop_last": False, **kwargs})
        dl.types = batch_types(new)
        return dl

    def decode_batch(self, b: Any, max_n: int = 10, full: bool = True) -> pd.DataFrame:
        return self.train.decode_batch(b, max_n=max_n, full=full)

    def show_batch(self, b: Any = None, max_n: int = 10, ctxs: Any = None, show: bool = True,
                   **kwargs: Any) -> pd.DataFrame:
        return self.train.show_batch(b, max_n=max_n, show=show)
