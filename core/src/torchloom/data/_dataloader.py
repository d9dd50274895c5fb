"""``DataLoader``: batches with ``after_item``/``before_batch``/``after_batch`` hooks and typed collation.

Workers go through torch's *public* ``torch.utils.data.DataLoader``: the main process samples batches of
indices, a worker builds a whole batch (items, ``after_item``, ``before_batch``, ``create_batch``), and
``after_batch`` runs in the main process on ``device``. Batches come in the same order whatever the number
of workers; with a ``seed``, shuffling and the random state of each batch's transforms are fixed too.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from torchloom._distributed.sampler import Shard, shard_indices, shard_size
from torchloom._tensors import retain_type, to_device
from torchloom._transform import Pipeline, SkipItemException
from torchloom.data._workers import default_worker_timeout, watch_workers

__all__ = ["DataLoader", "collate", "CollateError", "SkipItemException"]

_DisableSubclass = torch._C.DisableTorchFunctionSubclass


class CollateError(RuntimeError):
    """Samples of one batch could not be stacked (mismatched shapes or types)."""


def _shape_error(samples: list, path: str, idxs: list[int] | None) -> CollateError:
    shapes: dict[tuple, list[int]] = {}
    for k, s in enumerate(samples):
        shapes.setdefault(tuple(s.shape), []).append(k)
    names = idxs if idxs is not None else list(range(len(samples)))
    first = tuple(samples[0].shape)
    parts = []
    for shp, ks in shapes.items():
        which = ", ".join(str(names[k]) for k in ks[:6]) + (" ..." if len(ks) > 6 else "")
        parts.append(f"shape {shp} at item(s) {which}")
    return CollateError(f"cannot collate batch element{path}: samples have different shapes ({'; '.join(parts)}); "
                        f"the first item has shape {first}. Resize/pad items to one shape (an item transform) "
                        "or use a custom create_batch / before_batch")


def collate(samples: list, idxs: list[int] | None = None, _path: str = "") -> Any:
    """Stack a list of samples into a batch, keeping semantic tensor types and tuple structure.

    Tensors are stacked (their subtype and metadata kept), numbers become tensors, tuples/lists/dicts are
    collated element-wise, anything else is returned as a list. Mismatched shapes raise ``CollateError``
    naming the items (dataset indices when ``idxs`` is given) and their shapes.
    """
    first = samples[0]
    if isinstance(first, Tensor):
        try:
            with _DisableSubclass():
                out = torch.stack(samples)
        except RuntimeError as e:
            if any(not isinstance(s, Tensor) for s in samples):
                bad = [k for k, s in enumerate(samples) if not isinstance(s, Tensor)]
                raise CollateError(f"cannot collate batch element{_path}: item(s) {bad} are not tensors") from e
            if len({tuple(s.shape) for s in samples}) > 1:
                raise _shape_error(samples, _path, idxs) from e
            raise CollateError(f"cannot collate batch element{_path}: {e}") from e
        t = type(first)
        if t is not Tensor:
            out = out.as_subclass(t)
            if first.__dict__:
                out.__dict__.update(first.__dict__)
        return out
    if isinstance(first, (bool, int, float, np.number)) and not isinstance(first, np.ndarray):
        return torch.tensor(samples)
    if isinstance(first, np.ndarray):
        return collate([torch.from_numpy(s) for s in samples], idxs, _path)
    if isinstance(first, tuple):
        n = len(first)
        if any(len(s) != n for s in samples):
            raise CollateError(f"cannot collate batch element{_path}: samples have different lengths "
                               f"{sorted({len(s) for s in samples})}")
        res = [collate([s[j] for s in samples], idxs, f"{_path}[{j}]") for j in range(n)]
        if hasattr(first, "_fields"):
            return type(first)(*res)
        return tuple(res) if type(first) is tuple else type(first)(res)
    if isinstance(first, list):
        if all(isinstance(s, list) and len(s) == len(first) for s in samples) and first and \
                isinstance(first[0], (Tensor, int, float)):
            return [collate([s[j] for s in samples], idxs, f"{_path}[{j}]") for j in range(len(first))]
        return samples
    if isinstance(first, Mapping):
        return {k: collate([s[k] for s in samples], idxs, f"{_path}[{k!r}]") for k in first}
    return list(samples)


def _make_hook(h: Any, split_idx: int | None) -> Pipeline:
    if isinstance(h, Pipeline):
        return h if h.split_idx == split_idx else Pipeline(h.fs, split_idx=split_idx)
    return Pipeline(h, split_idx=split_idx)


def _identity(x: Any) -> Any:
    return x


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)


class _BatchMaker:
    """What a worker runs: indices -> items -> ``after_item`` -> ``before_batch`` -> ``create_batch``.

    Indexed by ``(epoch, batch_no, idxs)`` through torch's map-style dataset protocol (no auto-collation).
    """

    def __init__(self, dl: DataLoader, cache: dict[int, Any] | None = None) -> None:
        self.dataset, self.after_item, self.before_batch = dl.dataset, dl.after_item, dl.before_batch
        self.create_batch, self.seed = dl.create_batch, dl.seed
        self.rank = None if dl.shard is None else dl.shard.rank
        self._custom_create = dl._custom_create
        self.cache = cache  # dataset items already built (decoded), by index; None: no caching

    def _item(self, i: int) -> Any:
        c = self.cache
        if c is None:
            return self.dataset[i]
        it = c.get(i)
        if it is None:
            it = c[i] = self.dataset[i]
        return it

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int, list[int]]) -> Any:
        epoch, batch_no, idxs = key
        if self.seed is None:
            return self._make(idxs)
        # seed python, numpy and torch from (seed, epoch, batch): the batch's random transforms draw the same
        # values whichever process builds it; the caller's RNG streams are restored afterwards
        state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            key = (self.seed, epoch, batch_no) if self.rank is None else (self.seed, epoch, batch_no, self.rank)
            s = hash(key) & 0xFFFF_FFFF  # each rank of a DDP job draws its own augmentation
            random.seed(s)
            np.random.seed(s)
            torch.manual_seed(s)
            try:
                return self._make(idxs)
            finally:
                random.setstate(state)
                np.random.set_state(np_state)

    def _make(self, idxs: list[int]) -> Any:
        ds, ai = self._item if self.cache is not None else self.dataset.__getitem__, self.after_item
        items, kept = [], []
        if ai.fs:
            for i in idxs:
                try:
                    items.append(ai(ds(i)))
                    kept.append(i)
                except SkipItemException:
                    continue
        else:
            for i in idxs:
                try:
                    items.append(ds(i))
                    kept.append(i)
                except SkipItemException:
                    continue
        if not items:
            return None
        if self.before_batch.fs:
            items = self.before_batch(items)
        if self._custom_create:
            return self.create_batch(items)
        return collate(items, kept)


class _EpochSampler:
    """Yields ``(epoch, batch_no, idxs)`` for one epoch; drawn in the main process so order never depends on
    the number of workers."""

    def __init__(self, dl: DataLoader) -> None:
        self.dl = dl

    def __iter__(self) -> Iterator[tuple[int, int, list[int]]]:
        dl = self.dl
        epoch = dl._epoch
        idxs = dl.epoch_indices()
        bs = dl.bs
        n_full = len(idxs) // bs if dl.drop_last else math.ceil(len(idxs) / bs)
        self.drawn: list[tuple[int, int, list[int]]] = []  # what the workers were given (named if one fails)
        for b in range(n_full):
            key = (epoch, b, idxs[b * bs:(b + 1) * bs])
            self.drawn.append(key)
            yield key

    def __len__(self) -> int:
        return len(self.dl)


class DataLoader:
    """Batches of ``dataset`` items for training and inference.

    Hooks (each a ``Pipeline`` of transforms, or anything ``Pipeline`` accepts): ``after_item`` runs on each
    item (in workers), ``before_batch`` on the list of items, ``create_batch`` collates (default: typed
    ``collate``), ``after_batch`` runs on the batch on ``device`` in the main process.
    ``timeout`` (with ``num_workers``): seconds to wait for one batch, default ``TORCHLOOM_WORKER_TIMEOUT``
    or 600 (0 waits forever); a hung, crashed or killed worker raises ``WorkerError`` naming the batch(es)
    and their items.

    ``cache=True`` keeps each dataset item after it is first built -- for images, the decoded picture --
    so later epochs skip reading and decoding files; ``after_item`` and later hooks (augmentation) still
    run every time. Use it when the dataset's own transforms are deterministic (type transforms such as
    ``PILImage.create``, ``Categorize``) and the decoded set fits in memory. With workers the cache lives
    in each worker, so it pays only with ``persistent_workers=True``.
    """

    def __init__(self, dataset: Any, bs: int = 64, shuffle: bool = False, drop_last: bool = False,
                 num_workers: int = 0, device: torch.device | str | None = None, after_item: Any = None,
                 before_batch: Any = None, after_batch: Any = None, create_batch: Callable | None = None,
                 seed: int | None = None, n: int | None = None, pin_memory: bool | None = None,
                 persistent_workers: bool = False, timeout: float | None = None, do_setup: bool = True,
                 get_idxs: Callable[[], Any] | None = None, cache: bool = False) -> None:
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader needs an indexable dataset with a length, got {type(dataset).__name__}")
        if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
            raise ValueError(f"DataLoader: bs must be a positive int, got {bs!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        self.dataset, self.bs, self.shuffle, self.drop_last = dataset, bs, shuffle, drop_last
        self.num_workers, self.seed, self._n = num_workers, seed, n
        self._pin, self.persistent_workers = pin_memory, persistent_workers
        self.timeout = default_worker_timeout() if timeout is None else float(timeout)  # seconds per batch; 0: forever
        self.device = torch.device(device) if device is not None else None
        self._get_idxs = get_idxs
        self.shard: Shard | None = None  # set by the ddp callback while a distributed fit runs
        self.cache = cache  # keep dataset items (e.g. decoded images) after their first use
        self._item_cache: dict[int, Any] = {}
        si = getattr(dataset, "split_idx", None)
        self.after_item = _make_hook(after_item, si)
        self.before_batch = _make_hook(before_batch, si)
        self.after_batch = _make_hook(after_batch, si)
        if create_batch is not None:
            self.create_batch = create_batch  # type: ignore[method-assign]
        self._custom_create = create_batch is not None or type(self).create_batch is not DataLoader.create_batch
        self._epoch = -1
        self._torch_dl: torch.utils.data.DataLoader | None = None
        self._types: tuple | None = None
        if do_setup and len(self) > 0:
            for p in (self.after_item, self.before_batch, self.after_batch):
                if p.fs:
                    p.setup(self)
        if self.device is not None:
            self.after_batch.to(self.device)

    @property
    def pin_memory(self) -> bool:
        """Workers hand over batches in pinned memory; ``None`` (default) means: when ``device`` is CUDA."""
        if self._pin is not None:
            return self._pin
        return self.device is not None and self.device.type == "cuda"

    @pin_memory.setter
    def pin_memory(self, value: bool | None) -> None:
        self._pin = value

    def create_batch(self, items: list) -> Any:
        """Collate a list of samples (override, or pass ``create_batch=``, to batch differently)."""
        return collate(items)

    # --- sizes -------------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.dataset) if self._n is None else min(self._n, len(self.dataset))

    def __len__(self) -> int:
        n = self.n if self.shard is None else shard_size(self.n, self.shard, self.drop_last)
        return n // self.bs if self.drop_last else math.ceil(n / self.bs)

    @property
    def split_idx(self) -> int | None:
        return getattr(self.dataset, "split_idx", None)

    @property
    def n_inp(self) -> int:
        return getattr(self.dataset, "n_inp", 1)

    @property
    def epoch(self) -> int:
        """The pass over the data now running (0 for the first; -1 before any). ``one_batch`` does not count.

        A subclass that overrides ``__iter__`` advances it (``self.epoch += 1``) before drawing its order.
        """
        return self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch = int(value)

    @property
    def epoch_seed(self) -> int | None:
        """The seed of this epoch's shuffle: ``seed`` (or, under DDP, the job's shared seed) plus ``epoch``.

        ``None`` when unseeded (shuffles draw from the global RNG). Every rank of a DDP job gets the same
        value, so an overridden ``shuffle_fn`` that draws from it keeps the ranks' shards disjoint.
        """
        seed = self.seed if self.seed is not None or self.shard is None else self.shard.seed
        return None if seed is None else seed + max(self._epoch, 0)

    def shuffle_fn(self, idxs: Sequence[int]) -> list[int]:
        """A random order of ``idxs`` for a shuffled epoch (seeded by ``epoch_seed``); override to batch
        differently (e.g. by length), keeping ``get_idxs``' handling of ``n`` and of a ``get_idxs=`` callable."""
        s = self.epoch_seed
        g = None if s is None else torch.Generator().manual_seed(s)
        perm = torch.randperm(len(idxs), generator=g).tolist()
        return perm if idxs == range(len(idxs)) else [idxs[i] for i in perm]

    def get_idxs(self) -> list[int]:
        """This epoch's item order: ``range(n)``, or with ``shuffle`` ``n`` items of ``shuffle_fn(range(len(dataset)))``.

        A ``get_idxs`` callable given to the constructor replaces this (e.g. to pin a custom order), also
        in subclasses that override it.
        """
        if self._get_idxs is not None:
            return [int(i) for i in self._get_idxs()]
        n = self.n
        if not self.shuffle:
            return list(range(n))
        return self.shuffle_fn(range(len(self.dataset)))[:n]

    def epoch_indices(self) -> list[int]:
        """This epoch's items for this process: ``get_idxs()``, cut to this rank's shard under DDP.

        A subclass that overrides ``__iter__`` draws its items from here and sets the class attribute
        ``shards_by_rank = True``; otherwise DDP leaves it unsharded (every rank sees every item).
        """
        idxs = [int(i) for i in self._get_idxs()] if self._get_idxs is not None else self.get_idxs()
        return idxs if self.shard is None else shard_indices(idxs, self.shard, self.drop_last)

    # --- iteration ---------------------------------------------------------------------------------------
    def _check_nonempty(self) -> None:
        if self.n == 0:
            raise ValueError(f"DataLoader: the dataset ({type(self.dataset).__name__}) is empty; nothing to load")
        if len(self) == 0 and self.shard is None:  # a rank's shard of a tiny set may be empty
            raise ValueError(f"DataLoader: drop_last=True with bs={self.bs} > {self.n} items leaves no batch")

    def _raw_batches(self, num_workers: int) -> Iterator[Any]:
        sampler = _EpochSampler(self)
        if num_workers == 0:
            maker = _BatchMaker(self, self._item_cache if self.cache else None)
            for key in sampler:
                yield maker[key]
            return
        if self._torch_dl is None or not self.persistent_workers:
            maker = _BatchMaker(self, {} if self.cache else None)  # persistent workers keep their own cache
            dl = torch.utils.data.DataLoader(
                maker, batch_size=None, sampler=sampler, num_workers=num_workers,
                collate_fn=_identity, pin_memory=self.pin_memory and torch.cuda.is_available(),
                timeout=self.timeout, worker_init_fn=_worker_init,
                persistent_workers=self.persistent_workers)
            if self.persistent_workers:
                self._torch_dl = dl
        else:
            dl = self._torch_dl
        yield from watch_workers(dl, dl.sampler, num_workers, self.timeout)

    def __iter__(self) -> Iterator[Any]:
        if self.n == 0 and self.split_idx == 1:
            return  # an empty validation set (``IndexSplitter([])``): no batches, so fit skips validation
        self._check_nonempty()
        self._epoch += 1
        dev, ab = self.device, self.after_batch
        non_blocking = dev is not None and dev.type == "cuda"  # copies overlap compute (pinned with workers)
        for b in self._raw_batches(self.num_workers):
            if b is None:  # every item of the batch was skipped
                continue
            if dev is not None:
                b = to_device(b, dev, non_blocking=non_blocking)
            yield ab(b) if ab.fs else b

    def one_batch(self) -> Any:
        """The first batch, built in this process."""
        self._check_nonempty()
        nw, self.num_workers = self.num_workers, 0
        try:
            it = iter(self)
            res = next(it)
            it.close()
            return res
        finally:
            self.num_workers = nw
            self._epoch -= 1

    # --- decoding / showing ------------------------------------------------------------------------------
    @property
    def types(self) -> tuple | None:
        """The type of each element of a sample (after ``after_item``), from the first item; ``None`` if unknown.

        ``decode`` casts plain tensors back to these (e.g. a model's argmax to ``TensorCategory``) so that
        type-dispatched decodes apply.
        """
        if self._types is None and self.n > 0:
            s = self.after_item(self.dataset[0])
            self._types = tuple(type(x) for x in s) if isinstance(s, tuple) else (type(s),)
        return self._types

    @types.setter
    def types(self, v: tuple | None) -> None:
        self._types = None if v is None else tuple(v)

    def decode(self, b: Any) -> Any:
        """Undo ``after_batch`` and bring the batch to the CPU (plain tensors get the sample types first)."""
        typs = self.types
        if typs:
            bt = b if isinstance(b, tuple) else (b,)
            bt = tuple(retain_type(x, typ=t) if isinstance(x, Tensor) and t is not None else x
                       for x, t in zip(bt, typs)) + bt[len(typs):]
            b = bt if isinstance(b, tuple) else bt[0]
        return to_device(self.after_batch.decode(b), "cpu")

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list:
        """The first ``max_n`` samples of batch ``b``, decoded back through every hook and the dataset."""
        b = self.decode(b)
        samples = _unbatch(b, max_n)
        samples = self.before_batch.decode(samples) if self.before_batch.fs else samples
        res = []
        for s in samples:
            s = self.after_item.decode(s, full=full) if self.after_item.fs else s
            if hasattr(self.dataset, "decode"):
                s = self.dataset.decode(s, full=full)
            res.append(s)
        return res

    def show_batch(self, b: Any = None, max_n: int = 9, ctxs: Any = None, show: bool = True,
                   **kwargs: Any) -> Any:
        """Show decoded samples in a grid (matplotlib is imported only here); ``show=False`` returns them."""
        if b is None:
            b = self.one_batch()
        samples = self.decode_batch(b, max_n=max_n, full=False)
        if not show:
            return samples
        from torchloom.data._show import show_samples

        return show_samples(samples, ctxs=ctxs, **kwargs)

    def show_results(self, b: Any, out: Any, max_n: int = 9, ctxs: Any = None, show: bool = True,
                     **kwargs: Any) -> Any:
        """Show inputs with their targets and predictions (``out``: decoded predictions for batch ``b``).

        Titles read ``target/prediction`` (green when equal, red otherwise); ``show=False`` returns the
        decoded ``(inputs..., targets..., predictions...)`` samples.
        """
        n_inp = self.n_inp
        b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        targs = b[n_inp:]
        # predictions decode like the targets: give them the targets' semantic types first
        outs = tuple(retain_type(o.detach().cpu() if isinstance(o, Tensor) else o, t.cpu() if isinstance(t, Tensor)
                                 else t) for o, t in zip(outs, targs)) + outs[len(targs):]
        real = self.decode_batch(b, max_n=max_n, full=False)
        pred = self.decode_batch(b[:n_inp] + outs, max_n=max_n, full=False)
        samples = [tuple(r) + tuple(p[n_inp:]) for r, p in zip(real, pred)]
        if not show:
            return samples
        from torchloom.data._show import show_results

        return show_results(samples, n_inp, len(targs), ctxs=ctxs, **kwargs)

    # --- copies / device ---------------------------------------------------------------------------------
    def new(self, dataset: Any = None, **kwargs: Any) -> DataLoader:
        """A copy with some arguments replaced (unknown names raise ``TypeError``)."""
        args = dict(dataset=self.dataset if dataset is None else dataset, bs=self.bs, shuffle=self.shuffle,
                    drop_last=self.drop_last, num_workers=self.num_workers, device=self.device,
                    after_item=self.after_item, before_batch=self.before_batch, after_batch=self.after_batch,
                    create_batch=self.__dict__.get("create_batch"), seed=self.seed,
                    n=self._n, pin_memory=self._pin, persistent_workers=self.persistent_workers,
                    timeout=self.timeout, do_setup=False, get_idxs=self._get_idxs, cache=self.cache)
        for k in kwargs:
            if k not in args:
                import difflib

                close = difflib.get_close_matches(k, list(args), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TypeError(f"DataLoader.new() got an unexpected keyword argument {k!r}{hint}")
        args.update(kwargs)
        res = type(self)(**args)
        if self._types is not None:
            res._types = self._types
        return res

    def to(self, device: torch.device | str | None) -> DataLoader:
        """Put batches (and ``after_batch`` transform state) on ``device``."""
        self.device = torch.device(device) if device is not None else None
        if self.device is not None:
            self.after_batch.to(self.device)
        return self

    def __repr__(self) -> str:
        return (f"DataLoader(n={self.n}, bs={self.bs}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"num_workers={self.num_workers}, device={self.device})")


def _unbatch(b: Any, max_n: int) -> list:
    """Split a collated batch back into samples (types kept by indexing)."""
    if isinstance(b, Tensor):
        return [b[i] for i in range(min(len(b), max_n))]
    if isinstance(b, tuple):
        cols = [_unbatch(x, max_n) for x in b]
        n = min(len(c) for c in cols) if cols else 0
        return [tuple(c[i] for c in cols) for i in range(n)]
    if isinstance(b, list):
        return b[:max_n]
    if isinstance(b, Mapping):
        cols = {k: _unbatch(v, max_n) for k, v in b.items()}
        n = min(len(c) for c in cols.values())
        return [{k: c[i] for k, c in cols.items()} for i in range(n)]
    return [b]

