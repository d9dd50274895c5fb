"""Text loaders: ``LMDataLoader`` (contiguous token streams) and ``SortedDL`` (length-bucketed, padded).

``LMDataLoader`` concatenates the (re-shuffled each epoch) documents into one stream, cuts it into
``bs`` rows read ``seq_len`` tokens at a time: row ``r`` of batch ``i+1`` continues row ``r`` of batch
``i``, so a stateful RNN carries its hidden state across batches. Under ``learn.use("ddp")`` with
``world`` processes the stream is cut into ``bs * world`` rows and each rank reads every ``world``-th
one (rows ``rank, rank + world, ...``): ``bs`` stays per process, each rank's rows still continue
batch to batch, and the ranks together see exactly the batches one process with ``bs * world`` would. ``SortedDL`` batches classification
texts of similar length (sorted, longest first, in validation; random buckets in training) and pads
each batch at the start (``pad_first``) to a multiple of ``seq_len``, as fastai's ``SortedDL`` + ``Pad_Chunk``.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from torchloom import DataLoader, TensorBase, Transform

from .numericalize import LMTensorText, TensorText

__all__ = ["LMDataLoader", "SortedDL", "pad_input_chunk", "PadInputChunk"]


class _Docs:
    """The numericalized documents of a dataset (computed once; the dataset stays the source of truth)."""

    def __init__(self, dataset: Any) -> None:
        self.docs: list[Tensor] = []
        for i in range(len(dataset)):
            x = dataset[i]
            x = x[0] if isinstance(x, tuple) else x
            self.docs.append(torch.as_tensor(x).as_subclass(Tensor).long())
        self.lens = torch.tensor([len(d) for d in self.docs], dtype=torch.long)


class LMDataLoader(DataLoader):
    """Batches ``(LMTensorText x, TensorText y)`` of shape ``(bs, seq_len)`` with ``y`` = ``x`` shifted by one.

    Documents (items of ``dataset``: token-id tensors, or tuples whose first element is one) are shuffled
    each epoch when ``shuffle`` (documents, never the tokens inside them) and concatenated; the last batch
    is shorter when the stream does not divide evenly, as in fastai.
    """

    def __init__(self, dataset: Any, bs: int = 64, seq_len: int = 72, shuffle: bool = False,
                 docs: _Docs | None = None, **kwargs: Any) -> None:
        if seq_len < 1:
            raise ValueError(f"LMDataLoader: seq_len must be >= 1, got {seq_len}")
        kwargs.pop("drop_last", None)
        self.seq_len = seq_len
        self._docs = docs if docs is not None else (_Docs(dataset) if len(dataset) > 0 else None)
        self.bl = self.n_batches = 0
        if self._docs is not None:
            total = int(self._docs.lens.sum())
            self.bl = (total - 1) // bs
            if self.bl < 1:
                raise ValueError(f"LMDataLoader: the corpus has {total} tokens, too few for bs={bs} streams "
                                 "(need at least bs + 1 tokens)")
            self.n_batches = math.ceil(self.bl / seq_len)
        super().__init__(dataset, bs=bs, shuffle=shuffle, drop_last=False, **kwargs)

    shards_by_rank = True  # under ``learn.use("ddp")`` each rank reads its own streams (see ``_geometry``)
    preds_concat_dim = 1  # get_preds: each batch continues every row's stream, so batches join along time

    def _geometry(self) -> tuple[int, int, int]:
        """``(streams in all, stream length, batches)``: ``bs`` streams per process, ``bs * world`` under DDP."""
        if self.shard is None or self._docs is None:
            return self.bs, self.bl, self.n_batches
        rows = self.bs * self.shard.world
        total = int(self._docs.lens.sum())
        bl = (total - 1) // rows
        if bl < 1:
            raise ValueError(f"LMDataLoader: the corpus has {total} tokens, too few for bs={self.bs} streams on "
                             f"each of {self.shard.world} processes (need at least {rows + 1} tokens)")
        return rows, bl, math.ceil(bl / self.seq_len)

    def __len__(self) -> int:
        return self._geometry()[2]

    @property
    def n(self) -> int:
        return len(self) * self.bs

    def _stream(self, rows: int, bl: int) -> Tensor:
        docs = self._docs.docs
        order = list(range(len(docs)))
        if self.shuffle:
            seed = self.seed if self.seed is not None or self.shard is None else self.shard.seed
            if seed is not None:  # under DDP every rank must draw the same order
                random.Random(seed + max(self._epoch, 0)).shuffle(order)
            else:
                order = torch.randperm(len(docs)).tolist()
        stream = torch.cat([docs[i] for i in order])
        return stream[:rows * bl + 1]

    def __iter__(self) -> Iterator[Any]:
        if self._docs is None:
            raise ValueError("LMDataLoader: the dataset is empty; nothing to load")
        rows, bl, n_batches = self._geometry()
        self._epoch += 1
        s = self._stream(rows, bl)
        x_all = s[:-1].view(rows, bl)
        y_all = s[1:].view(rows, bl)
        if self.shard is not None:  # rows rank, rank + world, ...: interleaving the ranks' rows gives one
            # process's batch of bs * world rows (the order the ddp callback gathers predictions in)
            x_all, y_all = x_all[self.shard.rank::self.shard.world], y_all[self.shard.rank::self.shard.world]
        dev, ab = self.device, self.after_batch
        for i in range(n_batches):
            sl = slice(i * self.seq_len, min((i + 1) * self.seq_len, bl))
            b = (LMTensorText(x_all[:, sl].contiguous()), TensorText(y_all[:, sl].contiguous()))
            if dev is not None:
                b = (b[0].to(dev), b[1].to(dev))
            yield ab(b) if ab.fs else b

    def one_batch(self) -> Any:
        it = iter(self)
        try:
            return next(it)
        finally:
            it.close()
            self._epoch -= 1

    def new(self, dataset: Any = None, **kwargs: Any) -> LMDataLoader:
        args = dict(bs=self.bs, seq_len=self.seq_len, shuffle=self.shuffle, device=self.device, seed=self.seed,
                    after_batch=self.after_batch)
        kwargs.pop("drop_last", None)
        kwargs.pop("get_idxs", None)
        kwargs.pop("num_workers", None)
        args.update(kwargs)
        same = dataset is None or dataset is self.dataset
        return LMDataLoader(self.dataset if dataset is None else dataset, docs=self._docs if same else None,
                            **args)

    def get_idxs(self) -> list[int]:
        return list(range(self.n))

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list:
        x, y = b[0], b[1]
        n = min(max_n, len(x))
        dec = self.dataset.decode if hasattr(self.dataset, "decode") else None
        out = []
        for i in range(n):
            xi, yi = TensorText(x[i].cpu()), TensorText(y[i].cpu())
            out.append(dec((xi,)) + dec((yi,)) if dec is not None else (xi, yi))
        return out

    def show_batch(self, b: Any = None, max_n: int = 9, ctxs: Any = None, show: bool = True, **kwargs: Any
                   ) -> Any:
        """A table of decoded inputs and their shifted targets (``text``, ``text_``), like fastai's."""
        b = self.one_batch() if b is None else b
        rows = self.decode_batch(b, max_n=max_n)
        return _table([[str(r[0]), str(r[1])] for r in rows], ["text", "text_"], show)


def _table(rows: list[list[str]], cols: list[str], show: bool) -> Any:
    import pandas as pd

    df = pd.DataFrame(rows, columns=cols)
    if show:
        with pd.option_context("display.max_colwidth", 200, "display.width", 250):
            print(df)
    return df


def pad_input_chunk(samples: list[tuple], pad_idx: int = 1, pad_first: bool = True, seq_len: int = 72
                    ) -> list[tuple]:
    """Pad the first element of each sample to the batch's longest, to a multiple of ``seq_len``.

    With ``pad_first`` the padding goes first in whole ``seq_len`` chunks (so every text starts on a BPTT
    chunk boundary and the encoder can skip rows that have not started) and the remainder after the text,
    exactly as fastai's ``Pad_Chunk``.
    """
    lens = [len(s[0]) for s in samples]
    max_len = max(lens)
    out = []
    for s, n in zip(samples, lens):
        x = s[0]
        if n == max_len:
            out.append(s)
            continue
        extra = max_len - n
        n_chunks = extra // seq_len
        pad_chunk = x.new_full((n_chunks * seq_len,), pad_idx)
        pad_res = x.new_full((extra - n_chunks * seq_len,), pad_idx)
        new = torch.cat([pad_chunk, x, pad_res]) if pad_first else torch.cat([x, pad_chunk, pad_res])
        if isinstance(x, TensorBase):
            new = new.as_subclass(type(x))
        out.append((new, *s[1:]))
    return out


class PadInputChunk(Transform):
    """``pad_input_chunk`` as a ``before_batch`` transform (exportable, picklable for worker processes)."""

    def __init__(self, pad_idx: int = 1, pad_first: bool = True, seq_len: int = 72) -> None:
        super().__init__()
        self.pad_idx, self.pad_first, self.seq_len = pad_idx, pad_first, seq_len

    def encodes(self, samples: list) -> list:
        return pad_input_chunk(samples, self.pad_idx, self.pad_first, self.seq_len)

    def get_config(self) -> dict:
        return {"pad_idx": self.pad_idx, "pad_first": self.pad_first, "seq_len": self.seq_len}


class SortedDL(DataLoader):
    """A ``DataLoader`` over texts of different lengths, batched by length and padded per batch.

    Validation (``shuffle=False``) yields items sorted by decreasing length; training takes random
    chunks of ``50 * bs`` items, sorts inside each chunk, shuffles the batches and keeps the longest batch
    first (so an out-of-memory error shows at once). ``get_preds`` puts predictions back in dataset order.
    """

    def __init__(self, dataset: Any, bs: int = 64, shuffle: bool = False, pad_idx: int = 1, pad_first: bool = True,
                 seq_len: int = 72, lengths: list[int] | None = None, before_batch: Any = None, **kwargs: Any
                 ) -> None:
        self.pad_idx, self.pad_first, self.seq_len = pad_idx, pad_first, seq_len
        self._lengths = lengths
        if before_batch is None:
            before_batch = [PadInputChunk(pad_idx, pad_first, seq_len)]
        super().__init__(dataset, bs=bs, shuffle=shuffle, before_batch=before_batch, **kwargs)

    @property
    def lengths(self) -> list[int]:
        """Token count of each item (computed on first use; ``TextDataLoaders`` passes them in)."""
        if self._lengths is None:
            ds = self.dataset
            self._lengths = [len(_first(ds[i])) for i in range(len(ds))]
        return self._lengths

    def get_idxs(self) -> list[int]:
        if self._get_idxs is not None:
            return [int(i) for i in self._get_idxs()]
        lens = self.lengths
        idxs = list(range(self.n))
        if not self.shuffle:
            return sorted(idxs, key=lambda i: -lens[i])
        rng = random.Random(self.seed + max(self._epoch, 0)) if self.seed is not None else random.Random(
            int(torch.randint(0, 2**31 - 1, (1,))))
        rng.shuffle(idxs)
        sz = self.bs * 50
        chunks = [sorted(idxs[i:i + sz], key=lambda j: -lens[j]) for i in range(0, len(idxs), sz)]
        sorted_idx = [i for c in chunks for i in c]
        batches = [sorted_idx[i:i + self.bs] for i in range(0, len(sorted_idx), self.bs)]
        if self.drop_last and batches and len(batches[-1]) < self.bs:
            batches = batches[:-1]
        if not batches:
            return []
        longest = max(range(len(batches)), key=lambda k: lens[batches[k][0]])
        first = batches.pop(longest)
        rng.shuffle(batches)
        return [i for b in [first, *batches] for i in b]

    def new(self, dataset: Any = None, **kwargs: Any) -> SortedDL:
        extra = {k: kwargs.pop(k) for k in ("pad_idx", "pad_first", "seq_len") if k in kwargs}
        res = super().new(dataset, **kwargs)
        for k in ("pad_idx", "pad_first", "seq_len"):
            setattr(res, k, extra.get(k, getattr(self, k)))
        if dataset is None or dataset is self.dataset:
            res._lengths = self._lengths
        return res

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list:
        return super().decode_batch(b, max_n=max_n, full=full)

    def show_batch(self, b: Any = None, max_n: int = 9, ctxs: Any = None, show: bool = True, **kwargs: Any
                   ) -> Any:
        """A table of decoded texts and their labels (``text``, ``category``), like fastai's."""
        b = self.one_batch() if b is None else b
        rows = self.decode_batch(b, max_n=max_n, full=False)
        cols = ["text"] + [f"category{'' if k == 0 else k}" for k in range(len(rows[0]) - 1)] if rows else ["text"]
        return _table([[str(o) for o in r] for r in rows], cols, show)

    def show_results(self, b: Any, out: Any, max_n: int = 9, ctxs: Any = None, show: bool = True,
                     **kwargs: Any) -> Any:
        """A table of texts, their labels and the predictions (``text``, ``category``, ``category_``)."""
        samples = super().show_results(b, out, max_n=max_n, show=False)
        return _table([[str(o) for o in s] for s in samples], ["text", "category", "category_"], show)


def _first(o: Any) -> Any:
    return o[0] if isinstance(o, tuple) else o
