"""Table processors: ``FillMissing``, ``Categorify``, ``Normalize`` (fastai's procs), vectorised over DataFrames.

Each proc is a kernel ``Transform``: ``setup_frame`` learns its state from the *training rows only*, then
``encodes`` applies it unchanged to any DataFrame (valid, test, a single row) with whole-column pandas/numpy
operations. The state is JSON (category lists, medians, means, stds), so an exported learner keeps it in the
kernel's safe format; the procs are registered transforms, which is how a saved pipeline rebuilds them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd

from torchloom import Transform

__all__ = ["TabularProc", "Categorify", "FillMissing", "FillStrategy", "Normalize", "ColNames", "NA"]

NA = "#na#"
Rows = Union[slice, np.ndarray]


def rows(col: pd.Series, train: Rows) -> pd.Series:
    """The training rows of one column: a view for a slice, a gather of that column only otherwise."""
    return col.iloc[train]


class ColNames:
    """The column roles a proc may change at setup (``FillMissing`` adds ``<col>_na`` categorical columns)."""

    def __init__(self, cat_names: Sequence[str], cont_names: Sequence[str]) -> None:
        self.cat_names, self.cont_names = list(cat_names), list(cont_names)


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


class TabularProc(Transform):
    """A processor set up once on the training rows of a table and then applied to whole DataFrames."""

    order = 0

    def setup_frame(self, df: pd.DataFrame, train: Rows, names: ColNames) -> None:  # pragma: no cover
        """Learn the state from the rows ``train`` (a slice or row positions) of ``df`` -- those rows only."""
        raise NotImplementedError

    def setup_apply(self, df: pd.DataFrame, train: Rows, names: ColNames) -> pd.DataFrame:
        """``setup_frame`` on the training rows, then apply to every row of ``df`` (one pass where possible)."""
        self.setup_frame(df, train, names)
        return self(df)

    def setups(self, items: Any) -> None:
        """Pipeline setup is a no-op: tables are set up by ``TabularPandas`` through ``setup_frame``."""


class FillStrategy:
    """Namespace of fill strategies (fastai's ``FillStrategy.median`` / ``.mode`` / ``.constant``)."""

    median = "median"
    mode = "mode"
    constant = "constant"


_STRATEGIES = ("median", "mode", "constant")


class FillMissing(TabularProc):
    """Fill missing continuous values with a training statistic and add a ``<col>_na`` indicator column.

    Indicator columns are added for the columns that had missing values in the training rows (they become
    categorical columns); a column that had none there is still filled later, without an indicator.
    """

    order = 0

    def __init__(self, fill_strategy: str = "median", add_col: bool = True,
                 fill_vals: dict[str, Any] | None = None) -> None:
        super().__init__()
        fill_strategy = getattr(fill_strategy, "__name__", fill_strategy)
        if fill_strategy not in _STRATEGIES:
            raise ValueError(f"FillMissing: fill_strategy must be one of {_STRATEGIES}, got {fill_strategy!r}")
        self.fill_strategy, self.add_col = fill_strategy, bool(add_col)
        self.fill_vals = dict(fill_vals or {})
        self.na_dict: dict[str, Any] = {}
        self.na_cols: list[str] = []

    def setup_frame(self, df: pd.DataFrame, train: Rows, names: ColNames) -> None:
        na_dict, na_cols = {}, []
        for c in names.cont_names:
            col = rows(df[c], train)
            miss = col.isna()
            if bool(miss.all()):
                raise ValueError(f"FillMissing: continuous column {c!r} has no value in the training rows "
                                 "(all missing); drop it or fill it first")
            if self.fill_strategy == "median":
                v = col.median()
            elif self.fill_strategy == "mode":
                v = col.mode().iloc[0]
            else:
                v = self.fill_vals.get(c, 0)
            na_dict[c] = float(_py(v))
            if bool(miss.any()):
                na_cols.append(c)
        self.na_dict, self.na_cols = na_dict, na_cols
        if self.add_col:
            names.cat_names += [f"{c}_na" for c in na_cols if f"{c}_na" not in names.cat_names]

    def encodes(self, df: pd.DataFrame):
        for c, v in self.na_dict.items():
            col = df[c]
            miss = col.isna()
            if self.add_col and c in self.na_cols:
                df[f"{c}_na"] = miss.to_numpy()
            if bool(miss.any()):
                df[c] = col.fillna(v)
        return df

    def get_config(self) -> dict:
        return {"fill_strategy": self.fill_strategy, "add_col": self.add_col, "fill_vals": self.fill_vals}

    def state_dict(self) -> dict:
        return {"na_dict": dict(self.na_dict), "na_cols": list(self.na_cols)} if self.na_dict else {}

    def load_state_dict(self, d: dict) -> None:
        self.na_dict, self.na_cols = dict(d.get("na_dict", {})), list(d.get("na_cols", []))


def _classes(col: pd.Series) -> list:
    """The categories of a training column: a pandas categorical dtype's own (ordered ones keep their order),
    else the sorted distinct values (in order of appearance when they do not sort)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [_py(v) for v in col.cat.categories]
    vals = pd.unique(col.dropna().to_numpy(dtype=object))
    items = [_py(v) for v in vals]
    try:
        return sorted(items)
    except TypeError:
        return items


class Categorify(TabularProc):
    """Categorical columns -> integer codes; ``#na#`` (code 0) stands for missing and for unseen values.

    ``classes[col]`` is ``['#na#', *categories]``; an ordered pandas ``category`` column keeps its order.
    """

    order = 1

    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, list] = {}
        self._indexes: dict[str, pd.Index] = {}

    def setup_frame(self, df: pd.DataFrame, train: Rows, names: ColNames) -> None:
        self.classes = {c: [NA] + [v for v in _classes(rows(df[c], train)) if v != NA] for c in names.cat_names}
        self._indexes = {}

    def setup_apply(self, df: pd.DataFrame, train: Rows, names: ColNames) -> pd.DataFrame:
        """One hashing pass per column: factorize every row, keep the values seen in the training rows as the
        categories (sorted), and turn the factor codes into category codes with a small lookup table."""
        self.classes, self._indexes = {}, {}
        for c in names.cat_names:
            col = df[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                self.classes[c] = [NA] + [v for v in _classes(col) if v != NA]
                df[c] = self.codes(col, c)
                continue
            if col.dtype == np.bool_:  # indicator columns (numpy bool, never missing): no hashing needed
                codes, uniques = col.to_numpy().astype(np.int8), np.array([False, True], dtype=object)
            else:
                codes, uniques = pd.factorize(col)
            tr = codes[train]
            present = np.nonzero(np.bincount(tr[tr >= 0], minlength=len(uniques)))[0]
            vals = [_py(v) for v in np.asarray(uniques, dtype=object)[present]]
            order = list(range(len(vals)))
            try:
                order.sort(key=lambda i: vals[i])
            except TypeError:
                pass
            keep = [i for i in order if vals[i] != NA]
            self.classes[c] = [NA] + [vals[i] for i in keep]
            lut = np.zeros(len(uniques) + 1, dtype=np.int32)  # the last slot serves code -1 (missing)
            lut[present[keep]] = np.arange(1, len(keep) + 1, dtype=np.int32)
            df[c] = lut[codes]
        return df

    def codes(self, col: pd.Series, name: str) -> np.ndarray:
        """Codes of one column (0 for missing/unseen), as the smallest signed integer type that fits."""
        cats = self.classes[name][1:]
        if not cats:
            return np.zeros(len(col), dtype=np.int32)
        idx = self._index(name)
        if isinstance(col.dtype, pd.CategoricalDtype) and list(col.cat.categories) == list(idx):
            return col.cat.codes.to_numpy().astype(np.int32) + 1
        codes, uniques = pd.factorize(col)  # hash the rows once, then look up the few distinct values
        lut = np.append(idx.get_indexer(np.asarray(uniques, dtype=object)), -1).astype(np.int32)
        return lut[codes] + 1  # -1 (missing or unseen) -> 0, the '#na#' code

    def _index(self, name: str) -> pd.Index:
        idx = self._indexes.get(name)
        if idx is None:
            idx = self._indexes[name] = pd.Index(self.classes[name][1:], dtype=object)
        return idx

    def encodes(self, df: pd.DataFrame):
        for c in self.classes:
            df[c] = self.codes(df[c], c)
        return df

    def decodes(self, df: pd.DataFrame):
        for c, cl in self.classes.items():
            if c in df.columns:
                arr = np.asarray(cl, dtype=object)
                df[c] = arr[np.clip(df[c].to_numpy(dtype=np.int64), 0, len(arr) - 1)]
        return df

    def __getitem__(self, name: str) -> list:
        return self.classes[name]

    def state_dict(self) -> dict:
        return {"classes": {k: list(v) for k, v in self.classes.items()}} if self.classes else {}

    def load_state_dict(self, d: dict) -> None:
        self.classes = {k: list(v) for k, v in d.get("classes", {}).items()}
        self._indexes = {}

    def get_config(self) -> dict:
        return {}


class Normalize(TabularProc):
    """Continuous columns -> ``(x - mean) / std`` with the training rows' mean and std (ddof=0, +1e-7)."""

    order = 2

    def __init__(self) -> None:
        super().__init__()
        self.means: dict[str, float] = {}
        self.stds: dict[str, float] = {}

    def setup_frame(self, df: pd.DataFrame, train: Rows, names: ColNames) -> None:
        self.means, self.stds = {}, {}
        for c in names.cont_names:
            x = rows(df[c], train).to_numpy(dtype=np.float64)
            m, sd = x.mean(), x.std()  # after FillMissing there is no NaN; the nan-aware pass is slower
            if np.isnan(m):
                m, sd = np.nanmean(x), np.nanstd(x)
            self.means[c], self.stds[c] = float(m), float(sd) + 1e-7

    def encodes(self, df: pd.DataFrame):
        for c, m in self.means.items():
            df[c] = ((df[c].to_numpy(dtype=np.float64) - m) / self.stds[c]).astype(np.float32)
        return df

    def decodes(self, df: pd.DataFrame):
        for c, m in self.means.items():
            if c in df.columns:
                df[c] = df[c].to_numpy(dtype=np.float64) * self.stds[c] + m
        return df

    def state_dict(self) -> dict:
        return {"means": dict(self.means), "stds": dict(self.stds)} if self.means else {}

    def load_state_dict(self, d: dict) -> None:
        self.means, self.stds = dict(d.get("means", {})), dict(d.get("stds", {}))

    def get_config(self) -> dict:
        return {}


def as_procs(procs: Iterable[Any] | None) -> list[TabularProc]:
    """Instances from proc classes or instances (fastai accepts both), sorted by ``order``."""
    out = []
    for p in procs or ():
        inst = p() if isinstance(p, type) else p
        if not isinstance(inst, TabularProc):
            raise TypeError(f"procs: {p!r} is not a tabular proc (expected Categorify, FillMissing, Normalize or "
                            "another TabularProc)")
        out.append(inst)
    return sorted(out, key=lambda t: t.order)
