"""How a tabular pipeline is saved by ``learn.export`` and rebuilt by ``torchloom.load_learner``.

The kernel stores a DataLoaders *spec*: per output, a list of registered transforms with their JSON
config and state. For a table that is ``TabularRow -> procs -> ReadTabCats`` (and ``ReadTabConts``) for the
inputs and ``ReadTabTarget -> Categorize | RegressionSetup`` for the target, so an exported learner carries
the procs' category lists, fill values, means and stds -- no pickle -- and the rebuilt kernel loaders
process new rows (``dls.test_dl(df)``, ``learn.predict(row)``) exactly as in training.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from torchloom import (
    Categorize,
    DataLoader,
    DataLoaders,
    Datasets,
    Pipeline,
    RegressionSetup,
    TensorCategory,
    TfmdLists,
    Transform,
)

__all__ = ["TabularRow", "ReadTabCats", "ReadTabConts", "ReadTabTarget", "spec_dataloaders", "procs_from_dls"]


class TabularRow(Transform):
    """One row (a ``dict`` or ``Series``) -> a one-row DataFrame of the input columns, for the procs."""

    order = -10

    def __init__(self, columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = list(columns or [])

    def _frame(self, row: Mapping) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in row]
        if missing:
            raise KeyError(f"the row has no column(s) {missing}; it needs {self.columns}")
        df = pd.DataFrame({c: [row[c]] for c in self.columns})
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].infer_objects()
        return df

    def encodes(self, row: dict):
        return self._frame(row)

    def encodes(self, row: pd.Series):  # noqa: F811 - one overload per input type
        return self._frame(row.to_dict())


class ReadTabCats(Transform):
    """A processed one-row DataFrame -> the row's categorical codes; decodes back to a DataFrame of codes."""

    order = 50

    def __init__(self, cat_names: list[str] | None = None) -> None:
        super().__init__()
        self.cat_names = list(cat_names or [])

    def encodes(self, df: pd.DataFrame):
        return torch.as_tensor(np.asarray([df[c].to_numpy()[0] for c in self.cat_names], dtype=np.int64))

    def decodes(self, t: Tensor):
        return pd.DataFrame({c: [int(v)] for c, v in zip(self.cat_names, t.reshape(-1).tolist())})


class ReadTabConts(Transform):
    """A processed one-row DataFrame -> the row's continuous values; decodes back to a DataFrame."""

    order = 50

    def __init__(self, cont_names: list[str] | None = None) -> None:
        super().__init__()
        self.cont_names = list(cont_names or [])

    def encodes(self, df: pd.DataFrame):
        return torch.as_tensor(np.asarray([df[c].to_numpy()[0] for c in self.cont_names], dtype=np.float32))

    def decodes(self, t: Tensor):
        return pd.DataFrame({c: [float(v)] for c, v in zip(self.cont_names, t.reshape(-1).tolist())})


class ReadTabTarget(Transform):
    """A row -> its target value(s) (one label, or the numbers of the regression columns)."""

    order = 0

    def __init__(self, y_names: list[str] | None = None) -> None:
        super().__init__()
        self.y_names = list(y_names or [])

    def _read(self, row: Mapping) -> Any:
        vals = [row[c] for c in self.y_names]
        return vals[0] if len(vals) == 1 else vals

    def encodes(self, row: dict):
        return self._read(row)

    def encodes(self, row: pd.Series):  # noqa: F811
        return self._read(row.to_dict())


def spec_dataloaders(dls: Any) -> DataLoaders:
    """Kernel ``DataLoaders`` (no rows) holding the per-row pipelines of a ``TabularDataLoaders``."""
    to = dls.tabular
    raw = [c for c in to.cat_names if not _added_na(c, to.procs)] + list(to.cont_names)
    x_lists = [[TabularRow(raw), *to.procs, ReadTabCats(to.cat_names)]]
    types: list[Any] = [Tensor]
    if to.with_cont:
        x_lists.append([TabularRow(raw), *to.procs, ReadTabConts(to.cont_names)])
        types.append(Tensor)
    if to.y_kind == "category":
        y_list = [ReadTabTarget(to.y_names), Categorize(vocab=to.vocab, sort=False)]
        types.append(TensorCategory)
    else:
        y_list = [ReadTabTarget(to.y_names), RegressionSetup(c=len(to.y_names))]
        types.append(Tensor)
    loaders = []
    for k, dl in enumerate(dls.loaders):
        tls = [TfmdLists([], Pipeline(fs, split_idx=k), split_idx=k, do_setup=False) for fs in [*x_lists, y_list]]
        new = DataLoader(Datasets(tls=tls, n_inp=to.n_inp), bs=dl.bs, shuffle=dl.shuffle, drop_last=dl.drop_last,
                         seed=dl.seed, after_batch=list(dl.after_batch.fs), do_setup=False)
        new.types = tuple(types)
        loaders.append(new)
    return DataLoaders(*loaders, path=dls.path)


def _added_na(c: str, procs: list) -> bool:
    return any(getattr(p, "add_col", False) and c in {f"{n}_na" for n in getattr(p, "na_cols", [])} for p in procs)


def procs_from_dls(dls: Any) -> dict[str, Any]:
    """What a rebuilt kernel pipeline holds: procs, column names and the target vocab (for re-wrapping)."""
    tl0 = dls.train_ds.tls[0].tfms.fs
    from .procs import TabularProc

    procs = [t for t in tl0 if isinstance(t, TabularProc)]
    cats = next(t for t in tl0 if isinstance(t, ReadTabCats)).cat_names
    conts: list[str] = []
    if len(dls.train_ds.tls) > 2 or dls.n_inp == 2:
        conts = next(t for t in dls.train_ds.tls[1].tfms.fs if isinstance(t, ReadTabConts)).cont_names
    ytl = dls.train_ds.tls[-1].tfms.fs
    y_names = next(t for t in ytl if isinstance(t, ReadTabTarget)).y_names
    cat = next((t for t in ytl if isinstance(t, Categorize)), None)
    return {"procs": procs, "cat_names": cats, "cont_names": conts, "y_names": y_names,
            "vocab": list(cat.vocab) if cat is not None else None, "n_inp": dls.n_inp}
