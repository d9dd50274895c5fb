"""How a tabular pipeline is saved by ``learn.export`` and rebuilt by ``torchloom.load_learner``.

The kernel stores a DataLoaders *spec*: per output of the dataset (its ``tls``), a list of registered
transforms with their JSON config and state. For a table that is ``TabularRow -> procs -> ReadTabCats`` (and ``ReadTabConts``) for the
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

from torchloom import Categorize, RegressionSetup, TensorCategory, Transform

__all__ = ["TabularRow", "ReadTabCats", "ReadTabConts", "ReadTabTarget", "row_pipelines", "batch_types"]


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


def row_pipelines(to: Any) -> list[list[Transform]]:
    """Per output (codes, values, target), the transforms that turn one raw row into it: what a tabular
    dataset shows the kernel (its ``tls``), so the kernel's export stores the procs with their state."""
    raw = [c for c in to.cat_names if not _added_na(c, to.procs)] + list(to.cont_names)
    lists: list[list[Transform]] = [[TabularRow(raw), *to.procs, ReadTabCats(to.cat_names)]]
    if to.with_cont:
        lists.append([TabularRow(raw), *to.procs, ReadTabConts(to.cont_names)])
    if to.y_kind == "category":
        lists.append([ReadTabTarget(to.y_names), Categorize(vocab=to.vocab, sort=False)])
    elif to.y_kind == "regression":
        lists.append([ReadTabTarget(to.y_names), RegressionSetup(c=len(to.y_names))])
    return lists


def batch_types(to: Any) -> tuple[type, ...]:
    """The tensor type of each batch element (targets of a classification decode as categories)."""
    xs: tuple[type, ...] = (Tensor, Tensor) if to.with_cont else (Tensor,)
    if to.y_kind == "none" or to.ys is None:
        return xs
    return (*xs, TensorCategory if to.y_kind == "category" else Tensor)


def _added_na(c: str, procs: list) -> bool:
    return any(getattr(p, "add_col", False) and c in {f"{n}_na" for n in getattr(p, "na_cols", [])} for p in procs)
