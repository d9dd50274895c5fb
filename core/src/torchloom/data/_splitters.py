"""Splitters: ``items -> (train_idxs, valid_idxs)``, as in fastai."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

__all__ = ["RandomSplitter", "IndexSplitter", "EndSplitter", "ColSplitter", "GrandparentSplitter", "FuncSplitter",
           "MaskSplitter"]


def _check_pct(valid_pct: float) -> None:
    if not 0 <= valid_pct <= 1:
        raise ValueError(f"valid_pct must be between 0 and 1, got {valid_pct!r}")


def RandomSplitter(valid_pct: float = 0.2, seed: int | None = None) -> Callable[[Any], tuple[list, list]]:
    """Random ``valid_pct`` of the items for validation (reproducible with ``seed``)."""
    _check_pct(valid_pct)

    def _inner(items: Any) -> tuple[list[int], list[int]]:
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        idxs = torch.randperm(len(items), generator=g).tolist()
        cut = int(valid_pct * len(items))
        return idxs[cut:], idxs[:cut]

    return _inner


def IndexSplitter(valid_idx: Iterable[int]) -> Callable[[Any], tuple[list, list]]:
    """The items at ``valid_idx`` for validation, the rest for training."""
    valid = [int(i) for i in valid_idx]

    def _inner(items: Any) -> tuple[list[int], list[int]]:
        n = len(items)
        bad = [i for i in valid if not 0 <= i < n]
        if bad:
            raise IndexError(f"IndexSplitter: valid indices out of range for {n} items: {bad[:5]}")
        vs = set(valid)
        return [i for i in range(n) if i not in vs], sorted(vs)

    return _inner


def EndSplitter(valid_pct: float = 0.2, valid_last: bool = True) -> Callable[[Any], tuple[list, list]]:
    """The last (or first) ``valid_pct`` of the items for validation."""
    _check_pct(valid_pct)

    def _inner(items: Any) -> tuple[list[int], list[int]]:
        n = len(items)
        cut = int(valid_pct * n)
        idx = list(range(n))
        return (idx[:n - cut], idx[n - cut:]) if valid_last else (idx[cut:], idx[:cut])

    return _inner


def MaskSplitter(mask: Iterable[bool]) -> Callable[[Any], tuple[list, list]]:
    """Validation where ``mask`` is true."""
    m = [bool(x) for x in mask]

    def _inner(items: Any) -> tuple[list[int], list[int]]:
        if len(m) != len(items):
            raise ValueError(f"MaskSplitter: mask has {len(m)} entries for {len(items)} items")
        return [i for i, x in enumerate(m) if not x], [i for i, x in enumerate(m) if x]

    return _inner


def FuncSplitter(func: Callable[[Any], bool]) -> Callable[[Any], tuple[list, list]]:
    """Validation where ``func(item)`` is true."""

    def _inner(items: Any) -> tuple[list[int], list[int]]:
        rows = items.itertuples() if hasattr(items, "itertuples") and hasattr(items, "iloc") else items
        m = [bool(func(items.iloc[i])) for i in range(len(items))] if hasattr(items, "iloc") else \
            [bool(func(o)) for o in rows]
        return [i for i, x in enumerate(m) if not x], [i for i, x in enumerate(m) if x]

    return _inner


def ColSplitter(col: str | int = "is_valid", on: Any = None) -> Callable[[Any], tuple[list, list]]:
    """Split a DataFrame by column ``col``: true (or equal to ``on``) means validation."""

    def _inner(df: Any) -> tuple[list[int], list[int]]:
        if not hasattr(df, "iloc"):
            raise TypeError(f"ColSplitter needs a DataFrame of items, got {type(df).__name__}")
        try:
            c = df[col] if isinstance(col, str) else df.iloc[:, col]
        except KeyError:
            raise KeyError(f"ColSplitter: column {col!r} not found; columns are {list(df.columns)}") from None
        vals = list(c)
        m = [bool(v) for v in vals] if on is None else [v == on or (isinstance(on, (list, tuple, set)) and v in on)
                                                          for v in vals]
        return [i for i, x in enumerate(m) if not x], [i for i, x in enumerate(m) if x]

    return _inner


def GrandparentSplitter(train_name: str = "train", valid_name: str = "valid") -> Callable[[Any], tuple[list, list]]:
    """Split file paths by the name of their grandparent folder (``train/cat/1.jpg``)."""

    def _inner(items: Any) -> tuple[list[int], list[int]]:
        gp = [Path(o).parent.parent.name for o in items]
        valid = [i for i, g in enumerate(gp) if g == valid_name]
        if gp and not valid:  # a folder name that matches nothing is a typo, not a wish for no validation
            found = sorted(set(gp))
            raise ValueError(f"GrandparentSplitter left the validation set empty: no item is under a folder named "
                             f"{valid_name!r} (grandparent folders found: {found[:10]}); pass valid_name=")
        return [i for i, g in enumerate(gp) if g == train_name], valid

    return _inner
