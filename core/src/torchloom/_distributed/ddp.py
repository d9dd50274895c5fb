"""``learn.use("ddp")``: data-parallel training on PyTorch's ``DistributedDataParallel``.

Start the script with ``torchrun --nproc_per_node N script.py``; every process runs the same code.
While a fit runs, this callback

* joins the ``torchrun`` process group (gloo on CPU, NCCL on GPU) and wraps the model in
  ``DistributedDataParallel`` (training phases only; validation calls the plain module, which
  needs no collective per batch);
* shards the loaders by rank: ``bs`` is per process, so the global batch is ``bs * world_size``;
  training shards are padded (or cut, with ``drop_last``) to equal size, validation shards are
  not, and every rank shuffles with the same seed each epoch;
* averages the training loss of each batch over ranks (so ``smooth_loss``, ``lr_find`` and
  NaN guards agree everywhere), and reduces validation loss and metrics at the end of the phase,
  so every rank reports what one process on the whole set would;
* gathers ``get_preds`` results from all ranks, in dataset order;
* keeps progress bars and the epoch table on rank 0 (files are written by rank 0 behind a
  barrier by the persistence layer);
* skips the gradient all-reduce (``no_sync``) on batches where ``GradientAccumulation`` will not
  step.

In a single process (no ``torchrun``) it does nothing, so one script runs both ways.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

import torch
from torch import nn

from torchloom._distributed.comm import (
    all_gather_cat,
    all_gather_objects,
    all_reduce,
    broadcast_int,
    interleave,
)
from torchloom._distributed.env import (
    ensure_process_group,
    is_distributed,
    is_main_process,
    local_rank,
    rank,
    world_size,
)
from torchloom._distributed.sampler import Shard
from torchloom._distributed.sync import sync_metric
from torchloom.callbacks._base import Callback
from torchloom.callbacks._core import GatherPreds, Recorder, cat_batches
from torchloom.callbacks._progress import ProgressCallback
from torchloom.callbacks._training import GradientAccumulation
from torchloom.data._dataloader import DataLoader

__all__ = ["DistributedTrainer"]


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _combine(items: list[Any], dim: int = 0) -> Any:
    """Per-batch gathered values -> one value (tensors joined along ``dim``, tuples element-wise, lists joined).

    Rows stay on dim 0 either way, so the rank gather below interleaves rows back into one process's order."""
    if not items:
        return None
    first = items[0]
    if isinstance(first, torch.Tensor):
        return cat_batches(items, dim)
    if isinstance(first, tuple):
        return tuple(_combine([it[i] for it in items], dim) for i in range(len(first)))
    return [o for it in items for o in (it if isinstance(it, list) else [it])]


def _skeleton(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return "tensor"
    if isinstance(x, tuple):
        return tuple(_skeleton(o) for o in x)
    return "list"


def _gather(x: Any, skel: Any) -> Any:
    """Gather a combined value from every rank and interleave it back into dataset order."""
    if skel == "tensor":
        return interleave(all_gather_cat(x))
    if isinstance(skel, tuple):
        return tuple(_gather(None if x is None else x[i], s) for i, s in enumerate(skel))
    return interleave(all_gather_objects([] if x is None else list(x)))


class DistributedTrainer(Callback):
    """Data-parallel training under ``torchrun``: DDP model, rank-sharded loaders, whole-set metrics, rank-0 files.

    ``backend`` (default: ``$TORCHLOOM_DDP_BACKEND``, else NCCL for a model on CUDA and gloo
    otherwise) and ``timeout`` (seconds a collective waits for a missing rank) apply when this
    callback creates the process group; other keyword arguments go to ``DistributedDataParallel``
    (e.g. ``find_unused_parameters=True``). ``sync_loss=False`` keeps each rank's own training loss
    (one collective per batch less).
    """

    order = 5  # after TrainEvalCallback put the model on its device; before the Recorder reads metrics

    def __init__(self, backend: str | None = None, timeout: float | None = None, sync_loss: bool = True,
                 **ddp_kwargs: Any) -> None:
        super().__init__()
        self.backend, self.timeout, self.sync_loss, self.ddp_kwargs = backend, timeout, sync_loss, ddp_kwargs
        self.ddp: nn.parallel.DistributedDataParallel | None = None
        self.module: nn.Module | None = None
        self._sharded: list[tuple[Any, Any]] = []
        self._quiet: list[Callback] = []
        self._logger: Any = None
        self._nosync: Any = None
        self._valid_split = False
        self._unsharded: set[str] = set()
        self._seeded: Any = None

    @property
    def active(self) -> bool:
        """True when more than one process takes part."""
        return is_distributed()

    # -- sharding ---------------------------------------------------------------------------------
    def _shard(self, dl: Any, even: bool, seed: int | None = None) -> None:
        if dl is None or not hasattr(dl, "shard") or getattr(dl, "shard", None) is not None:
            return
        cls = type(dl)
        if not (getattr(cls, "shards_by_rank", False) is True or
                (isinstance(dl, DataLoader) and cls.__iter__ is DataLoader.__iter__)):
            if cls.__name__ not in self._unsharded:
                self._unsharded.add(cls.__name__)
                warnings.warn(f"ddp: {cls.__name__} overrides __iter__ without declaring shards_by_rank = True, so it "
                              f"is not sharded: every rank sees all its items (correct, without the speed-up)",
                              RuntimeWarning, stacklevel=3)
            return
        self._sharded.append((dl, dl.shard))
        dl.shard = Shard(rank(), world_size(), even, seed)

    def _unshard(self) -> None:
        for dl, old in reversed(self._sharded):
            dl.shard = old
        self._sharded = []

    # -- fit --------------------------------------------------------------------------------------
    def _backend(self) -> str | None:
        """The argument, else ``$TORCHLOOM_DDP_BACKEND``, else by the model's device: NCCL on CUDA, gloo on CPU."""
        if self.backend is not None or os.environ.get("TORCHLOOM_DDP_BACKEND"):
            return self.backend
        model = self.learn.model
        p = next(model.parameters(), None) if isinstance(model, nn.Module) else None
        return "nccl" if p is not None and p.device.type == "cuda" else "gloo"

    def before_fit(self) -> None:
        if not ensure_process_group(self._backend(), self.timeout):
            return
        learn = self.learn
        if not is_main_process():
            self._logger, learn.logger = learn.logger, _noop
            self._quiet = [cb for cb in learn.cbs if isinstance(cb, ProgressCallback) and cb.run]
            for cb in self._quiet:
                cb.run = False
        if learn.is_inference:
            return
        train = getattr(learn.dls, "train", None)
        if getattr(train, "shuffle", False) and getattr(train, "seed", 0) is None and hasattr(train, "shard"):
            # every rank must shuffle alike: a seed drawn on rank 0 for this fit (the loader's own order
            # logic, e.g. length bucketing, then uses it too)
            self._seeded = train
            train.seed = broadcast_int(int(torch.randint(0, 2**31 - 1, ()).item()) if is_main_process() else 0)
        self._shard(train, even=True)
        if train is not None and not hasattr(train, "shard"):
            warnings.warn(f"ddp: the training loader ({type(train).__name__}) cannot be sharded by rank (it has no "
                          f"`shard` attribute, as torchloom's DataLoader has), so every rank trains on all of it",
                          RuntimeWarning, stacklevel=2)
        self._shard(getattr(learn.dls, "valid", None), even=False)
        model = learn.model
        if isinstance(model, nn.Module) and not isinstance(model, nn.parallel.DistributedDataParallel):
            p = next(model.parameters(), None)
            kw = dict(self.ddp_kwargs)
            if p is not None and p.device.type == "cuda":
                kw.setdefault("device_ids", [p.device.index if p.device.index is not None else local_rank()])
            self.module, self.ddp = model, nn.parallel.DistributedDataParallel(model, **kw)
            learn.model = self.ddp

    def before_train(self) -> None:
        if not is_distributed():
            return
        if self.ddp is not None:
            self.learn.model = self.ddp
        self._shard(self.learn.dl, even=True)

    def before_batch(self) -> None:
        if self.ddp is None or not self.learn.training:
            return
        ga = next((c for c in self.learn.cbs if isinstance(c, GradientAccumulation) and c.run), None)
        if ga is not None and ga.count + ga._bs() < ga.n_acc:  # this batch will not step: keep grads local
            self._nosync = self.ddp.no_sync()
            self._nosync.__enter__()

    def after_loss(self) -> None:
        learn = self.learn
        if self.sync_loss and learn.training and learn.loss is not None and is_distributed():
            loss = learn.loss
            learn.loss = all_reduce(loss.float().mean() if loss.ndim else loss.float(), "mean").to(loss.dtype)

    def after_batch(self) -> None:
        self._exit_nosync()

    def _exit_nosync(self) -> None:
        if self._nosync is not None:
            ctx, self._nosync = self._nosync, None
            ctx.__exit__(None, None, None)

    def after_train(self) -> None:
        if not is_distributed():
            return
        rec = self._recorder()
        if rec is not None and rec.train_metrics:
            for m in self.learn.metrics:
                sync_metric(m)

    def before_validate(self) -> None:
        if not is_distributed():
            return
        if self.module is not None:
            self.learn.model = self.module  # evaluation needs no gradient sync nor per-batch collectives
        self._shard(self.learn.dl, even=False)
        # reduce only what was split across ranks (a plain list of batches is seen whole by every rank)
        self._valid_split = getattr(self.learn.dl, "shard", None) is not None

    def after_validate(self) -> None:
        if not is_distributed():
            return
        learn = self.learn
        if self.ddp is not None:
            learn.model = self.ddp
        if not self._valid_split:
            return
        rec = self._recorder()
        if rec is not None and not rec.cancel_valid:
            sync_metric(rec.avg_loss)
            if rec.valid_metrics or learn.is_inference:
                for m in learn.metrics:
                    sync_metric(m)
        for gp in [c for c in learn.cbs if isinstance(c, GatherPreds)]:
            for attr in ("inputs", "preds", "targets", "losses"):
                local = _combine(getattr(gp, attr), gp.concat_dim)
                skels = [s for s in all_gather_objects(_skeleton(local)) if s is not None]
                setattr(gp, attr, [_gather(local, skels[0])] if skels else [])

    def _recorder(self) -> Recorder | None:
        return next((c for c in self.learn.cbs if isinstance(c, Recorder)), None)

    def cleanup_fit(self) -> None:
        self._exit_nosync()
        if self.module is not None and self.learn.model is self.ddp:
            self.learn.model = self.module
        self.ddp = self.module = None
        self._unshard()
        if self._seeded is not None:
            self._seeded.seed, self._seeded = None, None
        if self._logger is not None:
            self.learn.logger, self._logger = self._logger, None
        for cb in self._quiet:
            cb.run = True
        self._quiet = []

