"""``CollabDataLoaders``: a ratings table (user, item, rating) as torchloom-tabular loaders."""
from __future__ import annotations

from typing import Any

import pandas as pd
from torchloom_tabular import Categorify, TabularDataLoaders, TabularPandas, check_columns

from torchloom import RandomSplitter

__all__ = ["CollabDataLoaders"]


class CollabDataLoaders(TabularDataLoaders):
    """Batches of ``(user/item codes, rating)``; users and items are categorified on the training ratings
    (a user or item seen only in the validation rows maps to ``#na#``, as in fastai)."""

    @classmethod
    def from_df(cls, ratings: pd.DataFrame, valid_pct: float = 0.2, user_name: str | None = None,
                item_name: str | None = None, rating_name: str | None = None, seed: int | None = None,
                path: Any = ".", bs: int = 64, val_bs: int | None = None, shuffle: bool = True,
                device: Any = None, **kwargs: Any) -> CollabDataLoaders:
        """Columns default to the first three (user, item, rating); ``item_name="title"`` uses titles."""
        if not isinstance(ratings, pd.DataFrame):
            raise TypeError(f"CollabDataLoaders.from_df needs a pandas DataFrame, got {type(ratings).__name__}")
        if len(ratings) == 0:
            raise ValueError("CollabDataLoaders.from_df: the ratings DataFrame is empty (0 rows)")
        if ratings.shape[1] < 3 and None in (user_name, item_name, rating_name):
            raise ValueError(f"the ratings need user, item and rating columns; got only {list(ratings.columns)}")
        user_name = ratings.columns[0] if user_name is None else user_name
        item_name = ratings.columns[1] if item_name is None else item_name
        rating_name = ratings.columns[2] if rating_name is None else rating_name
        check_columns(ratings, user_name=[user_name], item_name=[item_name], rating_name=[rating_name])
        col = ratings[rating_name]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            num = pd.to_numeric(col, errors="coerce")
            bad = num.isna() & col.notna()
            if bool(bad.any()) or pd.api.types.is_bool_dtype(col.dtype):
                row = bad.idxmax() if bool(bad.any()) else col.index[0]
                raise ValueError(f"rating column {rating_name!r} holds the non-numeric value {col[row]!r} "
                                 f"(row {row!r}); ratings must be numbers")
        splits = RandomSplitter(valid_pct, seed=seed)(range(len(ratings)))
        to = TabularPandas(ratings, [Categorify], cat_names=[user_name, item_name], y_names=[rating_name],
                           y_block="regression", splits=splits, with_cont=False)
        return cls.from_tabular(to, bs=bs, shuffle_train=shuffle, val_bs=val_bs, device=device, path=path,
                                seed=seed, **kwargs)

    @classmethod
    def from_csv(cls, csv: Any, **kwargs: Any) -> CollabDataLoaders:
        from pathlib import Path

        if not Path(csv).is_file():
            raise FileNotFoundError(f"CollabDataLoaders.from_csv: no such file {csv}")
        return cls.from_df(pd.read_csv(csv), **kwargs)

    @property
    def user_name(self) -> str:
        return self.tabular.cat_names[0]

    @property
    def item_name(self) -> str:
        return self.tabular.cat_names[1]

    @property
    def rating_name(self) -> str:
        return self.tabular.y_names[0]
