"""``TabularPandas``: a DataFrame processed once by its procs into column tensors, with train/valid splits.

Procs are set up on the training rows only and applied, whole columns at a time, to every row; the
result is kept as three tensors (categorical codes, continuous values, targets) that loaders gather from
by index, one batch at a time.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from torchloom import Datasets, Pipeline, TfmdLists

from .procs import ColNames, TabularProc, as_procs

__all__ = ["TabularPandas", "TabularSplit", "ColumnNotFoundError", "cont_cat_split", "check_columns"]


class ColumnNotFoundError(KeyError):
    """A column named in ``cat_names``/``cont_names``/``y_names`` is not in the DataFrame."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _listify(o: Any) -> list:
    if o is None:
        return []
    if isinstance(o, str):
        return [o]
    return list(o)


def _preview(cols: Iterable[Any], n: int = 30) -> str:
    cols = [str(c) for c in cols]
    return ", ".join(cols[:n]) + (f", ... ({len(cols)} in all)" if len(cols) > n else "")


def check_columns(df: pd.DataFrame, **roles: Sequence[str]) -> None:
    """Every named column exists (the error names the role, the missing columns and the available ones)."""
    have = set(df.columns)
    for role, names in roles.items():
        missing = [c for c in names if c not in have]
        if missing:
            raise ColumnNotFoundError(f"{role}: column(s) {missing} not in the DataFrame; its columns are: "
                                      f"{_preview(df.columns)}")


def _check_numeric(df: pd.DataFrame, cont_names: Sequence[str]) -> None:
    """Continuous columns hold numbers: text is an error naming the column, the value and its row."""
    for c in cont_names:
        col = df[c]
        if pd.api.types.is_bool_dtype(col.dtype):
            df[c] = col.astype(np.float32)
            continue
        if pd.api.types.is_numeric_dtype(col.dtype):
            continue
        num = pd.to_numeric(col, errors="coerce")
        bad = num.isna() & col.notna()
        if bool(bad.any()):
            row = bad.idxmax()
            raise ValueError(f"continuous column {c!r} holds the non-numeric value {col[row]!r} (row {row!r}, "
                             f"{int(bad.sum())} such value(s)); fix the data or list {c!r} in cat_names")
        df[c] = num


def cont_cat_split(df: pd.DataFrame, max_card: int = 20, dep_var: str | Sequence[str] | None = None
                   ) -> tuple[list[str], list[str]]:
    """``(cont_names, cat_names)``: integer columns with more than ``max_card`` values and float columns are
    continuous; everything else (strings, categories, booleans, low-cardinality ints) is categorical."""
    dep = set(_listify(dep_var))
    cont, cat = [], []
    for c in df.columns:
        if c in dep:
            continue
        dt = df[c].dtype
        if pd.api.types.is_float_dtype(dt) or (pd.api.types.is_integer_dtype(dt) and df[c].nunique() > max_card):
            cont.append(c)
        else:
            cat.append(c)
    return cont, cat


def _y_kind(y_block: Any, df: pd.DataFrame, y_names: list[str]) -> str:
    """``"category"`` or ``"regression"``: from ``y_block`` (a kernel block or a name) or from the dtype."""
    if y_block is None:
        if not y_names:
            return "none"
        numeric = all(pd.api.types.is_numeric_dtype(df[c].dtype) and not pd.api.types.is_bool_dtype(df[c].dtype)
                      for c in y_names)
        return "regression" if numeric else "category"
    if isinstance(y_block, str):
        if y_block not in ("category", "regression"):
            raise ValueError(f"y_block must be 'category', 'regression', CategoryBlock() or RegressionBlock(), "
                             f"got {y_block!r}")
        return y_block
    if callable(y_block) and not hasattr(y_block, "type_tfms"):
        y_block = y_block()
    names = {type(t).__name__ for t in getattr(y_block, "type_tfms", [])}
    if "Categorize" in names:
        return "category"
    if "RegressionSetup" in names:
        return "regression"
    raise ValueError(f"y_block {y_block!r} is neither a CategoryBlock nor a RegressionBlock")


class TabularPandas:
    """A DataFrame with column roles, processed by ``procs`` (set up on the training rows only).

    ``TabularPandas(df, procs=[Categorify, FillMissing, Normalize], cat_names, cont_names, y_names,
    y_block=None, splits=(train_idx, valid_idx))`` (``procs=None`` means those three; ``[]`` means none); ``y_block`` is inferred (numbers -> regression,
    anything else -> classification) unless given. ``splits`` are row positions. ``to.train`` / ``to.valid``
    are loader-ready datasets; ``to.dataloaders(bs=64)`` builds ``TabularDataLoaders``. ``reduce_memory``
    is accepted for fastai's signature (codes are stored as int32 already); ``inplace=True`` processes
    ``df`` itself instead of a column selection of it.
    """

    def __init__(self, df: pd.DataFrame, procs: Iterable[Any] | None = None, cat_names: Any = None,
                 cont_names: Any = None, y_names: Any = None, y_block: Any = None, splits: Any = None,
                 do_setup: bool = True, device: Any = None, inplace: bool = False, reduce_memory: bool = True,
                 with_cont: bool = True) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"TabularPandas needs a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("TabularPandas: the DataFrame is empty (0 rows)")
        cat_names, cont_names, y_names = _listify(cat_names), _listify(cont_names), _listify(y_names)
        check_columns(df, cat_names=cat_names, cont_names=cont_names, y_names=y_names)
        both = sorted(set(cat_names) & set(cont_names))
        if both:
            raise ValueError(f"column(s) {both} are in both cat_names and cont_names")
        if not cat_names and not cont_names:
            raise ValueError("TabularPandas: no input columns (cat_names and cont_names are both empty)")
        self.y_names, self.device, self.with_cont = y_names, device, with_cont
        if procs is None:
            from .procs import Categorify, FillMissing, Normalize

            procs = [Categorify, FillMissing, Normalize]
        self.procs: list[TabularProc] = as_procs(procs)
        self.splits = self._norm_splits(splits, len(df))
        self.y_kind = _y_kind(y_block, df, y_names)
        # a column selection is a new frame (copy-on-write in pandas 3), so the procs never touch ``df``
        work = df if inplace else df[list(dict.fromkeys(cat_names + cont_names + y_names))]
        work = work.reset_index(drop=True)
        _check_numeric(work, cont_names)
        self._check_targets(work)
        train = _selector(self.splits[0])
        # all-missing columns: numbers checked here (cheap), categories on their codes after Categorify (#na# = 0)
        empty = [c for c in cont_names if bool(np.isnan(work[c].iloc[train].to_numpy(np.float64)).all())]
        if not any(hasattr(p, "classes") for p in self.procs):
            empty += [c for c in cat_names if work[c].iloc[train].first_valid_index() is None]
        _raise_empty(empty)
        names = ColNames(cat_names, cont_names)
        for p in self.procs:
            work = p.setup_apply(work, train, names) if do_setup else p(work)
        if do_setup and any(hasattr(p, "classes") for p in self.procs):
            _raise_empty([c for c in cat_names if not work[c].iloc[train].to_numpy().any()])
        self.cat_names, self.cont_names = names.cat_names, names.cont_names
        self.items = work
        self.vocab: list | None = None
        if self.y_kind == "category":
            self.vocab = _vocab(work[y_names[0]].iloc[train])
        self._tensors()

    # -- setup helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _norm_splits(splits: Any, n: int) -> list[np.ndarray]:
        if splits is None:
            return [np.arange(n), np.arange(0)]
        out = []
        for k, s in enumerate(splits):
            arr = np.asarray(list(s) if not isinstance(s, (np.ndarray, Tensor)) else s)
            if isinstance(s, Tensor):
                arr = s.cpu().numpy()
            if arr.dtype == bool:
                arr = np.nonzero(arr)[0]
            arr = arr.astype(np.int64)
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise IndexError(f"split {k} holds row positions out of range for {n} rows")
            out.append(arr)
        if not len(out[0]):
            raise ValueError("TabularPandas: the training split is empty")
        return out

    def _check_targets(self, work: pd.DataFrame) -> None:
        for c in self.y_names:
            miss = work[c].isna()
            if bool(miss.any()):
                rows = np.nonzero(miss.to_numpy())[0][:5].tolist()
                raise ValueError(f"target column {c!r} has {int(miss.sum())} missing value(s) (first at rows "
                                 f"{rows}); drop those rows or fill them")
        if self.y_kind == "regression":
            for c in self.y_names:
                if not pd.api.types.is_numeric_dtype(work[c].dtype):
                    num = pd.to_numeric(work[c], errors="coerce")
                    bad = num.isna()
                    if bool(bad.any()):
                        row = int(np.argmax(bad.to_numpy()))
                        raise ValueError(f"regression target column {c!r} holds the non-numeric value "
                                         f"{work[c].iloc[row]!r} (row {row})")
                    work[c] = num
        elif self.y_kind == "category" and len(self.y_names) != 1:
            raise ValueError(f"a classification target is one column, got y_names={self.y_names}")

    def _tensors(self) -> None:
        """Check the encoded columns and make the target tensor; the input tensors are built on first use."""
        w = self.items
        raw = [c for c in self.cat_names if not (pd.api.types.is_integer_dtype(w[c].dtype)
                                                 or pd.api.types.is_bool_dtype(w[c].dtype))]
        if raw:
            raise TypeError(f"categorical column(s) {raw} are not encoded as integers: add Categorify to procs")
        self._cats: Tensor | None = None
        self._conts: Tensor | None = None
        if self.y_kind == "category":
            codes = pd.Index(self.vocab, dtype=object).get_indexer(w[self.y_names[0]].to_numpy(dtype=object))
            unseen = codes < 0
            if unseen.any():
                labels = pd.unique(w[self.y_names[0]][unseen])[:5].tolist()
                raise ValueError(f"target column {self.y_names[0]!r} holds label(s) {labels} that are not in the "
                                 f"training rows' labels {self.vocab[:20]}")
            self.ys: Tensor | None = torch.from_numpy(codes.astype(np.int64))
        elif self.y_kind == "regression":
            self.ys = _stack(w, self.y_names, np.float32)
        else:
            self.ys = None

    @property
    def cats(self) -> Tensor:
        """``(rows, n_cat)`` int64 codes of the categorical columns (built once, on first use)."""
        if self._cats is None:
            self._cats = _stack(self.items, self.cat_names, np.int64)
        return self._cats

    @property
    def conts(self) -> Tensor:
        """``(rows, n_cont)`` float32 values of the continuous columns (built once, on first use)."""
        if self._conts is None:
            self._conts = _stack(self.items, self.cont_names, np.float32)
        return self._conts

    # -- new data --------------------------------------------------------------------------------------
    def new(self, df: pd.DataFrame, with_labels: bool | None = None) -> TabularPandas:
        """The same (already set up) procs applied to other rows; labels kept when the target columns exist."""
        if not isinstance(df, pd.DataFrame):
            if isinstance(df, pd.Series):
                df = df.to_frame().T
            elif isinstance(df, dict):
                df = pd.DataFrame([df])
            else:
                raise TypeError(f"expected a DataFrame (or one row as a dict/Series), got {type(df).__name__}")
        if len(df) == 0:
            raise ValueError("the DataFrame is empty (0 rows)")
        raw_cats = [c for c in self.cat_names if not _is_na_col(c, self.procs)]
        raw_conts = list(self.cont_names)
        if with_labels is None:
            with_labels = bool(self.y_names) and all(c in df.columns for c in self.y_names)
        check_columns(df, cat_names=raw_cats, cont_names=raw_conts, **({"y_names": self.y_names} if with_labels
                                                                       else {}))
        res = object.__new__(TabularPandas)
        res.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("items", "_cats", "_conts", "ys")})
        res.y_names = self.y_names if with_labels else []
        res.y_kind = self.y_kind if with_labels else "none"
        work = df[list(dict.fromkeys(raw_cats + raw_conts + res.y_names))].reset_index(drop=True)
        for c in raw_cats:  # objects keep row values as written (ints stay ints in an object-typed row)
            if work[c].dtype == object:
                work[c] = work[c].infer_objects()
        _check_numeric(work, raw_conts)
        res._check_targets(work)
        for p in self.procs:
            work = p(work)
        res.items = work
        res.splits = [np.arange(len(work)), np.arange(0)]
        res._tensors()
        res.y_names, res.y_kind = self.y_names, self.y_kind
        res.has_labels = with_labels
        return res

    # -- subsets ----------------------------------------------------------------------------------------
    def subset(self, i: int) -> TabularSplit:
        return TabularSplit(self, self.splits[i], split_idx=i)

    @property
    def train(self) -> TabularSplit:
        return self.subset(0)

    @property
    def valid(self) -> TabularSplit:
        return self.subset(1)

    def all_rows(self) -> TabularSplit:
        return TabularSplit(self, np.arange(len(self.items)), split_idx=1)

    # -- fastai-style accessors -------------------------------------------------------------------------
    @property
    def xs(self) -> pd.DataFrame:
        return self.items[self.cat_names + self.cont_names]

    @property
    def y(self) -> pd.DataFrame:
        return self.items[self.y_names]

    @property
    def classes(self) -> dict[str, list]:
        """Each categorical column's categories (``#na#`` first), from ``Categorify``."""
        for p in self.procs:
            if hasattr(p, "classes"):
                return p.classes
        return {}

    @property
    def n_inp(self) -> int:
        return 2 if self.with_cont else 1

    @property
    def c(self) -> int:
        return len(self.vocab) if self.vocab is not None else len(self.y_names)

    @property
    def loss_func(self) -> Any:
        from torchloom import CrossEntropyLossFlat, MSELossFlat

        return CrossEntropyLossFlat() if self.y_kind == "category" else MSELossFlat()

    def __len__(self) -> int:
        return len(self.items)

    # -- decoding ---------------------------------------------------------------------------------------
    def decode(self, cats: Tensor | None, conts: Tensor | None, y: Tensor | None = None,
               y_name: str | None = None) -> pd.DataFrame:
        """Rows back to their original values: category labels, de-normalised numbers and the target label."""
        cols: dict[str, Any] = {}
        if cats is not None and self.cat_names:
            c = cats.detach().cpu().numpy()
            cols.update({n: c[:, k] for k, n in enumerate(self.cat_names)})
        if conts is not None and self.cont_names:
            c = conts.detach().cpu().numpy()
            cols.update({n: c[:, k] for k, n in enumerate(self.cont_names)})
        df = pd.DataFrame(cols)
        for p in reversed(self.procs):
            df = p.decode(df)
        if y is not None:
            df[y_name or (self.y_names[0] if len(self.y_names) == 1 else "target")] = self.decode_y(y)
        return df

    def decode_y(self, y: Tensor) -> Any:
        y = y.detach().cpu()
        if self.y_kind == "category":
            return np.asarray(self.vocab, dtype=object)[y.long().numpy().reshape(-1)]
        y = y.float().numpy()
        return y.reshape(len(y), -1)[:, 0] if y.ndim > 1 and y.shape[1] == 1 else list(y)

    def dataloaders(self, bs: int = 64, shuffle_train: bool = True, val_bs: int | None = None,
                    device: Any = None, path: Any = ".", **kwargs: Any) -> Any:
        from .data import TabularDataLoaders

        return TabularDataLoaders.from_tabular(self, bs=bs, shuffle_train=shuffle_train, val_bs=val_bs,
                                               device=device if device is not None else self.device,
                                               path=path, **kwargs)

    def __repr__(self) -> str:
        return (f"TabularPandas: {len(self)} rows, cat_names={self.cat_names}, cont_names={self.cont_names}, "
                f"y_names={self.y_names} ({self.y_kind}), procs={[type(p).__name__ for p in self.procs]}")


def _raise_empty(cols: list[str]) -> None:
    if cols:
        raise ValueError(f"column(s) {cols} have no value in the training rows (all missing); drop them")


def _selector(idx: np.ndarray) -> slice | np.ndarray:
    """Row positions as a slice when they are one ascending run (views instead of gathers)."""
    if len(idx) and idx[-1] - idx[0] == len(idx) - 1 and bool((np.diff(idx) == 1).all()):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _is_na_col(c: str, procs: list[TabularProc]) -> bool:
    return any(c in {f"{n}_na" for n in getattr(p, "na_cols", [])} and getattr(p, "add_col", False)
               for p in procs)


def _vocab(col: pd.Series) -> list:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique().tolist())
        return [v for v in col.cat.categories.tolist() if v in present]
    vals = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(col.dropna().to_numpy(dtype=object))]
    try:
        return sorted(vals)
    except TypeError:
        return vals


def _stack(df: pd.DataFrame, names: list[str], dtype: Any) -> Tensor:
    if not names:
        return torch.empty(len(df), 0, dtype=torch.int64 if dtype == np.int64 else torch.float32)
    return torch.from_numpy(np.stack([df[n].to_numpy(dtype=dtype) for n in names], 1))


class TabularSplit(Datasets):
    """One split of a ``TabularPandas`` as contiguous tensors; ``batch(idx)`` gathers whole columns by index.

    It is a kernel ``Datasets`` whose transform lists (``tls``) are the per-row pipelines (raw row -> procs
    -> codes / values / target): the kernel's export stores them, with the procs' state, and
    ``load_learner`` rebuilds them to process new rows. Training never goes through them.
    """

    def __init__(self, to: TabularPandas, idxs: np.ndarray, split_idx: int | None = None) -> None:
        from .export import row_pipelines

        tls = [TfmdLists([], Pipeline(fs, split_idx=split_idx), split_idx=split_idx, do_setup=False)
               for fs in row_pipelines(to)]
        super().__init__(tls=tls, n_inp=to.n_inp)
        self.to, self.idxs, self._split_idx = to, np.asarray(idxs, dtype=np.int64), split_idx
        it = torch.from_numpy(self.idxs)
        full = len(self.idxs) == len(to.items) and bool((self.idxs == np.arange(len(self.idxs))).all())
        pick = (lambda t: t) if full else (lambda t: t.index_select(0, it))
        self.cats, self.conts = pick(to.cats), pick(to.conts)
        self.ys = pick(to.ys) if to.ys is not None else None

    @property
    def split_idx(self) -> int | None:
        return self._split_idx

    def __len__(self) -> int:
        return len(self.idxs)

    def batch(self, idx: Tensor | slice) -> tuple[Tensor, ...]:
        """The rows ``idx`` (a tensor of positions or a slice) as ``(cats, conts, y)``: one gather per column
        block, no per-row work."""
        if isinstance(idx, slice):
            xs = (self.cats[idx], self.conts[idx]) if self.to.with_cont else (self.cats[idx],)
            return xs if self.ys is None else (*xs, self.ys[idx])
        xs = (self.cats.index_select(0, idx), self.conts.index_select(0, idx)) if self.to.with_cont else \
            (self.cats.index_select(0, idx),)
        return xs if self.ys is None else (*xs, self.ys.index_select(0, idx))

    def __getitem__(self, i: int) -> tuple[Tensor, ...]:
        if isinstance(i, (int, np.integer)):
            return tuple(t[0] for t in self.batch(slice(int(i), int(i) + 1)))
        raise TypeError(f"TabularSplit indices are ints, got {type(i).__name__}")

    @property
    def items(self) -> pd.DataFrame:
        return self.to.items.iloc[self.idxs]

    @property
    def vocab(self) -> Any:
        if self.to.vocab is None:
            raise AttributeError("vocab: this table has no categorical target")
        return self.to.vocab

    @property
    def c(self) -> int:
        return self.to.c

    @property
    def loss_func(self) -> Any:
        return self.to.loss_func

    @property
    def classes(self) -> dict[str, list]:
        return self.to.classes

    @property
    def has_labels(self) -> bool:
        return self.ys is not None

    def __repr__(self) -> str:
        return f"TabularSplit: {len(self)} rows of {self.to!r}"
