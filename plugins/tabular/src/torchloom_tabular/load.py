"""``load_learner`` for tabular exports: the kernel's loader, then the table API back on top of it."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

import torchloom
from torchloom import Categorize

from .core import TabularPandas
from .data import TabularDataLoaders
from .export import ReadTabCats, ReadTabConts, ReadTabTarget
from .learner import TabularLearner
from .procs import TabularProc

__all__ = ["load_learner"]


def _table_from_pipelines(dls: Any) -> TabularPandas | None:
    """A row-less ``TabularPandas`` holding the procs and column roles of a rebuilt tabular pipeline
    (``None`` when the export is not a table)."""
    tls = getattr(getattr(dls, "train_ds", None), "tls", None)
    if not tls:
        return None
    first = list(tls[0].tfms.fs)
    reader = next((t for t in first if isinstance(t, ReadTabCats)), None)
    if reader is None:
        return None
    n_inp = dls.n_inp
    conts: list[str] = []
    if n_inp == 2:
        conts = next(t for t in tls[1].tfms.fs if isinstance(t, ReadTabConts)).cont_names
    y_names: list[str] = []
    y_kind, vocab = "none", None
    if len(tls) > n_inp:
        yfs = list(tls[n_inp].tfms.fs)
        y_names = next(t for t in yfs if isinstance(t, ReadTabTarget)).y_names
        cat = next((t for t in yfs if isinstance(t, Categorize)), None)
        y_kind, vocab = ("category", list(cat.vocab)) if cat is not None else ("regression", None)
    to = object.__new__(TabularPandas)
    to.__dict__.update({
        "procs": [t for t in first if isinstance(t, TabularProc)], "cat_names": list(reader.cat_names),
        "cont_names": list(conts), "y_names": list(y_names), "y_kind": y_kind, "vocab": vocab,
        "with_cont": n_inp == 2, "device": None, "splits": [np.arange(0), np.arange(0)],
        "items": pd.DataFrame({**{c: pd.Series(dtype=np.int64) for c in reader.cat_names},
                               **{c: pd.Series(dtype=np.float32) for c in conts}}), "ys": None,
        "_cats": None, "_conts": None})
    return to


def load_learner(fname: str | os.PathLike, cpu: bool = True) -> Any:
    """``torchloom.load_learner``; for a tabular export, a ``TabularLearner`` over ``TabularDataLoaders``
    rebuilt from the saved procs, so ``predict(row)`` returns the decoded row and ``test_dl`` is vectorised.
    Other exports are returned as the kernel loads them."""
    learn = torchloom.load_learner(fname, cpu=cpu)
    to = _table_from_pipelines(learn.dls)
    if to is None:
        return learn
    old = learn.dls
    dls = TabularDataLoaders.from_tabular(to, bs=old.train.bs, shuffle_train=False, device="cpu" if cpu else None,
                                          path=old.path)
    kwargs = {"opt_func": learn.opt_func} if isinstance(learn.opt_func, str) else {}
    return TabularLearner(dls, learn.model, loss_func=learn.loss_func, model_spec=learn.model_spec,
                          progress=False, path=learn.path, **kwargs)
