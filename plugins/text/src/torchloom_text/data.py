"""``TextBlock`` and ``TextDataLoaders``: from a DataFrame, a CSV, a folder or a DataBlock to text loaders.

The corpus is tokenized once, in parallel, before the datasets are built (fastai does it in ``setups``);
the datasets hold token lists, so indexing costs a dictionary lookup per token, and raw strings given
later (``predict``, ``test_dl``) go through the same ``Tokenizer`` transform.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchloom import Categorize, DataBlock, DataLoaders, Datasets, ItemTransform, TransformBlock

from .loaders import LMDataLoader, SortedDL
from .numericalize import Numericalize
from .tokenize import Tokenizer, _df_texts, tokenize_folder

__all__ = ["TextBlock", "TextDataLoaders", "text_dataloaders", "Field", "TextItem"]


class TextItem:
    """One document of a text dataset: its tokens and (for classification) its label."""

    __slots__ = ("tokens", "label")

    def __init__(self, tokens: list[str], label: Any = None) -> None:
        self.tokens, self.label = tokens, label

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        text = " ".join(self.tokens[:12]) + (" ..." if len(self.tokens) > 12 else "")
        return f"TextItem({text!r}, label={self.label!r})"


class Field(ItemTransform):
    """The tokens (``i=0``) or the label (``i=1``) of a ``TextItem``; anything else (a raw string at
    inference) passes through."""

    order = -1

    def __init__(self, i: int) -> None:
        super().__init__()
        self.i = i

    def encodes(self, o: Any) -> Any:
        if isinstance(o, TextItem):
            return o.tokens if self.i == 0 else o.label
        return o

    def get_config(self) -> dict:
        return {"i": self.i}


def TextBlock(tok_tfm: Tokenizer | None = None, vocab: list[str] | None = None, is_lm: bool = False,
              seq_len: int = 72, min_freq: int = 3, max_vocab: int = 60000) -> TransformBlock:
    """The text input block: ``Tokenizer`` + ``Numericalize``; ``text_dataloaders`` picks the loader type
    (``LMDataLoader`` when ``is_lm``, else ``SortedDL``) from the block's ``dls_kwargs``."""
    tok = tok_tfm if tok_tfm is not None else Tokenizer()
    return TransformBlock(type_tfms=[tok, Numericalize(vocab, min_freq=min_freq, max_vocab=max_vocab)],
                          dls_kwargs={"is_lm": is_lm, "seq_len": seq_len})


def _text_block_from(text_cols: Any = "text", vocab: list[str] | None = None, is_lm: bool = False,
                     seq_len: int = 72, tok: Any = None, rules: list | None = None, min_freq: int = 3,
                     max_vocab: int = 60000) -> TransformBlock:
    """``TextBlock`` with a tokenizer built from ``tok`` and ``rules`` (fastai's ``from_df``/``from_folder``
    spelling; the text comes from the DataBlock's ``get_x``, so ``text_cols`` is only documentation)."""
    return TextBlock(Tokenizer(tok, rules), vocab, is_lm, seq_len, min_freq, max_vocab)


TextBlock.from_df = _text_block_from  # type: ignore[attr-defined]
TextBlock.from_folder = _text_block_from  # type: ignore[attr-defined]


def _numericalizer(dsets: Datasets) -> Numericalize:
    for t in dsets.tls[0].tfms.fs:
        if isinstance(t, Numericalize):
            return t
    raise TypeError("text_dataloaders: the input pipeline has no Numericalize transform (use TextBlock)")


def text_dataloaders(dsets: Datasets, is_lm: bool = False, bs: int = 64, val_bs: int | None = None,
                     seq_len: int = 72, shuffle: bool = True, device: Any = None, path: str | os.PathLike = ".",
                     seed: int | None = None, lengths: Sequence[Sequence[int]] | None = None, **kwargs: Any
                     ) -> DataLoaders:
    """Loaders over each split of ``dsets``: ``LMDataLoader`` streams or length-sorted ``SortedDL`` batches."""
    num = _numericalizer(dsets)
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    loaders = []
    for i in range(dsets.n_subsets):
        ds = dsets.subset(i)
        train = i == 0
        b = bs if train else (val_bs or bs)
        if len(ds) == 0:
            raise ValueError(f"text_dataloaders: split {i} ({'train' if train else 'valid'}) is empty")
        if is_lm:
            dl: Any = LMDataLoader(ds, bs=b, seq_len=seq_len, shuffle=shuffle and train, device=device, seed=seed,
                                   **kwargs)
        else:
            dl = SortedDL(ds, bs=b, shuffle=shuffle and train, drop_last=shuffle and train, pad_idx=num.pad_idx,
                          seq_len=seq_len, device=device, seed=seed,
                          lengths=list(lengths[i]) if lengths is not None else None, **kwargs)
        loaders.append(dl)
    return DataLoaders(*loaders, path=path)


def _split(n: int, valid_pct: float, seed: int | None, valid_mask: Sequence[bool] | None) -> list[list[int]]:
    if valid_mask is not None:
        vm = [bool(v) for v in valid_mask]
        return [[i for i in range(n) if not vm[i]], [i for i in range(n) if vm[i]]]
    import torch

    g = torch.Generator().manual_seed(seed) if seed is not None else None
    perm = torch.randperm(n, generator=g).tolist()
    cut = int(valid_pct * n)
    return [sorted(perm[cut:]), sorted(perm[:cut])]


class TextDataLoaders(DataLoaders):
    """fastai's factories for text: ``from_df``, ``from_csv``, ``from_folder``, ``from_texts``, ``from_dblock``.

    ``is_lm=True`` gives language-model loaders (labels ignored); otherwise a classifier's ``(text, label)``
    loaders. ``text_vocab`` reuses a vocabulary (the language model's, for ULMFiT). Tokenization happens once,
    in parallel (``n_workers``).
    """

    @property
    def text_vocab(self) -> list[str]:
        """The token vocabulary (pass it as ``text_vocab=`` to build the classifier's loaders on the LM's)."""
        return list(_numericalizer(self.train_ds).vocab or [])

    @property
    def vocab(self) -> Any:
        """fastai's convention: the token vocab for a language model, ``[tokens, labels]`` for a classifier."""
        tv = self.text_vocab
        if len(self.train_ds.tls) == 1:
            return tv
        return [tv, list(self.train_ds.tls[-1].tfms.vocab)]

    @classmethod
    def from_tokens(cls, tokens: list[list[str]], labels: Sequence[Any] | None, splits: list[list[int]],
                    is_lm: bool = False, text_vocab: list[str] | None = None, label_vocab: list[Any] | None = None,
                    tok: Tokenizer | None = None, min_freq: int = 3, max_vocab: int = 60000, bs: int = 64,
                    val_bs: int | None = None, seq_len: int = 72, path: str | os.PathLike = ".",
                    **kwargs: Any) -> TextDataLoaders:
        """Loaders from already tokenized texts (and their labels) with train/valid index lists."""
        if len(tokens) == 0:
            raise ValueError("TextDataLoaders: the corpus is empty (no texts)")
        if text_vocab is not None and text_vocab and isinstance(text_vocab[0], list):
            text_vocab = text_vocab[0]  # a classifier's dls.vocab: [tokens, labels]
        tok = tok if tok is not None else Tokenizer()
        x_tfms = [Field(0), tok, Numericalize(text_vocab, min_freq=min_freq, max_vocab=max_vocab)]
        if is_lm or labels is None:
            items: list = [TextItem(t) for t in tokens]
            tfms = [x_tfms]
        else:
            if len(labels) != len(tokens):
                raise ValueError(f"TextDataLoaders: {len(tokens)} texts but {len(labels)} labels")
            items = [TextItem(t, lab) for t, lab in zip(tokens, labels)]
            tfms = [x_tfms, [Field(1), Categorize(label_vocab)]]
        dsets = Datasets(items, tfms=tfms, splits=splits, n_inp=1)
        lengths = None if is_lm else [[len(tokens[j]) for j in s] for s in splits]
        dls = text_dataloaders(dsets, is_lm=is_lm or labels is None, bs=bs, val_bs=val_bs, seq_len=seq_len,
                               path=path, lengths=lengths, **kwargs)
        return cls(*dls.loaders, path=path)

    @classmethod
    def from_texts(cls, texts: Sequence[str], labels: Sequence[Any] | None = None, valid_pct: float = 0.2,
                   seed: int | None = None, valid_mask: Sequence[bool] | None = None, tok: Any = None,
                   rules: list | None = None, n_workers: int | None = None, **kwargs: Any) -> TextDataLoaders:
        """Loaders from a list of strings (and labels), split at random (``valid_pct``) or by ``valid_mask``."""
        if len(texts) == 0:
            raise ValueError("TextDataLoaders.from_texts: the corpus is empty (no texts)")
        tfm, tokens = Tokenizer.from_texts(list(texts), tok=tok, rules=rules, n_workers=n_workers)
        splits = _split(len(tokens), valid_pct, seed, valid_mask)
        return cls.from_tokens(tokens, labels, splits, tok=tfm, **kwargs)

    @classmethod
    def from_df(cls, df: Any, text_col: str | list[str] = "text", label_col: str | None = None,
                valid_col: str | None = None, valid_pct: float = 0.2, seed: int | None = None,
                is_lm: bool = False, tok: Any = None, rules: list | None = None, n_workers: int | None = None,
                **kwargs: Any) -> TextDataLoaders:
        """Loaders from a DataFrame: texts in ``text_col``, labels in ``label_col``, validation rows flagged in
        ``valid_col`` (else a random ``valid_pct``)."""
        if len(df) == 0:
            raise ValueError("TextDataLoaders.from_df: the DataFrame has no rows (the corpus is empty)")
        texts = _df_texts(df, text_col, None)
        labels = None
        if not is_lm:
            if label_col is None:
                raise ValueError("TextDataLoaders.from_df: pass label_col= for a classifier (or is_lm=True)")
            if label_col not in df.columns:
                raise KeyError(f"label column {label_col!r} not in the DataFrame (columns: {list(df.columns)})")
            labels = df[label_col].tolist()
        if valid_col is not None and valid_col not in df.columns:
            raise KeyError(f"valid column {valid_col!r} not in the DataFrame (columns: {list(df.columns)})")
        mask = df[valid_col].tolist() if valid_col is not None else None
        tfm, tokens = Tokenizer.from_texts(texts, tok=tok, rules=rules, n_workers=n_workers)
        splits = _split(len(tokens), valid_pct, seed, mask)
        return cls.from_tokens(tokens, labels, splits, is_lm=is_lm, tok=tfm, **kwargs)

    @classmethod
    def from_csv(cls, path: str | os.PathLike, csv_fname: str = "labels.csv", header: str | int | None = "infer",
                 delimiter: str | None = None, **kwargs: Any) -> TextDataLoaders:
        """``from_df`` on ``path/csv_fname`` (read with pandas)."""
        import pandas as pd

        f = Path(path) / csv_fname
        if not f.is_file():
            raise FileNotFoundError(f"TextDataLoaders.from_csv: {f} does not exist")
        df = pd.read_csv(f, header=header, **({} if delimiter is None else {"delimiter": delimiter}))
        return cls.from_df(df, path=path, **kwargs)

    @classmethod
    def from_folder(cls, path: str | os.PathLike, train: str = "train", valid: str = "valid",
                    valid_pct: float | None = None, seed: int | None = None, vocab: list[Any] | None = None,
                    text_vocab: list[str] | None = None, is_lm: bool = False, tok: Any = None, rules: list | None = None,
                    n_workers: int | None = None, **kwargs: Any) -> TextDataLoaders:
        """Loaders from ``path/train/<label>/*.txt`` and ``path/valid/<label>/*.txt`` (ImageNet-style), the
        label being the parent folder; with ``valid_pct`` every file is split at random instead. The folder is
        tokenized into the ``<path>_tok`` cache (reused by later runs)."""
        root = Path(path)
        folders = None if valid_pct is not None else [train, valid]
        if folders is not None:
            for f in folders:
                if not (root / f).is_dir():
                    raise FileNotFoundError(f"TextDataLoaders.from_folder: {root / f} is not a folder (pass "
                                            f"train=/valid= names, or valid_pct= to split at random)")
        tfm = Tokenizer(tok, rules)
        res = tokenize_folder(root, folders=folders, tok=tfm.tok, rules=tfm.rules, n_workers=n_workers)
        tfm.counter = res.counter
        files = [Path(r) for r in res.files]
        labels = [f.parent.name for f in files]
        if valid_pct is not None:
            splits = _split(len(files), valid_pct, seed, None)
        else:
            splits = [[i for i, f in enumerate(files) if f.parts[0] == train],
                      [i for i, f in enumerate(files) if f.parts[0] == valid]]
        return cls.from_tokens(res.tokens, None if is_lm else labels, splits, is_lm=is_lm, tok=tfm,
                               text_vocab=text_vocab, label_vocab=vocab, path=path, **kwargs)

    @classmethod
    def from_dblock(cls, dblock: DataBlock, source: Any, path: str | os.PathLike = ".", bs: int = 64,
                    val_bs: int | None = None, **kwargs: Any) -> TextDataLoaders:
        """Loaders from a ``DataBlock`` whose input is a ``TextBlock`` (its ``is_lm`` picks the loader)."""
        dsets = dblock.datasets(source)
        kw = {**dblock.dls_kwargs, **kwargs}
        dls = text_dataloaders(dsets, bs=bs, val_bs=val_bs, path=path, **kw)
        return cls(*dls.loaders, path=path)
