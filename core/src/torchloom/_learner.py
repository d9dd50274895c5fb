"""The hook-only Learner: the loop runs forward, loss, backward, step, zero_grad and fires events.

Everything else (train/eval switching, recording, progress, schedules, mixup, fp16...) is a callback.
Beyond fastai: a guaranteed ``cleanup_fit`` event and state restoration when an exception escapes a
fit, real ``before``/``after`` ordering, per-callback error policy, and ``learn.use(name)`` over the
plugin registry. Event dispatch uses per-event lists of bound methods rebuilt only when the
callbacks change, so the per-batch cost is a few list walks.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import torchloom._learner_cbs as _cbs
import torchloom._learner_fit as _fit
import torchloom._learner_infer as _infer
import torchloom._learner_use as _use
import torchloom._persist.learner_io as _io
from torchloom._metrics import mk_metric
from torchloom.callbacks._base import (
    EVENTS,
    INNER_LOOP,
    Callback,
    CancelBackwardException,
    CancelBatchException,
    CancelEpochException,
    CancelException,
    CancelFitException,
    CancelStepException,
    CancelTrainException,
    CancelValidException,
    noop,
    sort_callbacks,
)
from torchloom.callbacks._schedule import valley
from torchloom.optim._optimizer import set_norm_bias_flags
from torchloom.optim._wrapper import OptimWrapper

__all__ = ["Learner", "trainable_params"]


def trainable_params(m: nn.Module) -> list[nn.Parameter]:
    """The default splitter: one parameter group with every parameter that requires grad."""
    return [p for p in m.parameters() if p.requires_grad]


def _annotate(e: BaseException, where: str) -> None:
    """Add one note saying where an exception happened (only the innermost place is recorded)."""
    if getattr(e, "_torchloom_where", None) is None:
        try:
            e._torchloom_where = where  # type: ignore[attr-defined]
        except AttributeError:  # some C exceptions refuse new attributes
            pass
        e.add_note(f"torchloom: raised {where}")


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.index == b.index or a.type == "cpu":
        return True
    cur = torch.cuda.current_device() if a.type == "cuda" and torch.cuda.is_available() else 0
    return (a.index if a.index is not None else cur) == (b.index if b.index is not None else cur)


def _to_device(b: Any, dev: torch.device) -> Any:
    if isinstance(b, torch.Tensor):
        return b if _same_device(b.device, dev) else b.to(dev, non_blocking=True)
    if isinstance(b, (tuple, list)):
        return type(b)(_to_device(o, dev) for o in b)
    if isinstance(b, dict):
        return {k: _to_device(v, dev) for k, v in b.items()}
    return b


class _Snapshot:
    """What a fit must give back if an exception escapes it."""

    def __init__(self, learn: Learner) -> None:
        self.loss_func, self.model, self.opt = learn.loss_func, learn.model, learn.opt
        self.training, self.logger = learn.training, learn.logger
        self.modes = [(m, m.training) for m in learn.model.modules()] if isinstance(learn.model, nn.Module) else []

    def restore(self, learn: Learner) -> None:
        learn.loss_func, learn.model, learn.opt = self.loss_func, self.model, self.opt
        learn.training, learn.logger = self.training, self.logger
        for m, mode in self.modes:
            m.training = mode


class Learner:
    """Group data, model, loss and optimizer, and train them by firing events to callbacks.

    ``dls`` is any object with ``train`` / ``valid`` iterables of batches (tuples ``(*xb, *yb)``;
    ``dls.n_inp`` says how many are inputs, default all but the last). ``opt_func`` may be a
    callable ``(params, lr=...) -> optimizer`` or a registered optimizer name such as ``"adam"``.
    ``use`` switches plugins on by name (``["mixup", ("fp16", {"dtype": "bf16"})]``).
    """

    def __init__(self, dls: Any, model: Callable[..., Any], loss_func: Callable[..., Any] | None = None,
                 opt_func: Callable[..., Any] | str = "adam", lr: float | slice = 1e-3,
                 splitter: Callable[[Any], Any] = trainable_params, cbs: Any = None, metrics: Any = None,
                 path: str | Path = ".", model_dir: str | Path = "models", wd: float | None = None,
                 wd_bn_bias: bool = False, train_bn: bool = True, moms: tuple[float, ...] = (0.95, 0.85, 0.95),
                 default_cbs: bool = True, use: Iterable[Any] | None = None,
                 model_spec: dict[str, Any] | None = None, progress: bool = True) -> None:
        if loss_func is None:
            loss_func = getattr(getattr(dls, "train_ds", None), "loss_func", None) or getattr(dls, "loss_func", None)
            if loss_func is None:
                raise ValueError("Learner(loss_func=None): the data does not provide a default loss function "
                                 "(dls.train_ds.loss_func); pass loss_func=..., e.g. CrossEntropyLossFlat()")
        self.dls, self.model, self.loss_func = dls, model, loss_func
        self.opt_func, self.lr, self.splitter = opt_func, lr, splitter
        self.path, self.model_dir = Path(path), Path(model_dir)
        self.wd, self.wd_bn_bias, self.train_bn, self.moms = wd, wd_bn_bias, train_bn, moms
        self.model_spec = model_spec
        self.opt: Any = None
        self.logger: Callable[..., Any] = print
        self.metrics = metrics
        # loop state
        self.training, self.is_inference = False, False
        self.epoch, self.n_epoch, self.start_epoch = 0, 1, 0
        self.iter, self.n_iter, self.train_iter, self.pct_train = 0, 0, 0, 0.0
        self.dl: Any = None
        self.xb: tuple[Any, ...] = (None,)
        self.yb: tuple[Any, ...] = (None,)
        self.pred: Any = None
        self.loss: Any = None
        self.loss_grad: Any = None
        self._smooth_loss_source: Any = None  # a metric with .value (the Recorder's), read on demand
        self._smooth_loss: Any = None
        self._fit_depth = 0
        self._batch_dev: torch.device | None = None
        self._n_inp: int | None = None
        # callbacks
        self._insertion: list[Callback] = []
        self.cbs: list[Callback] = []
        self._ev_train: dict[str, tuple[tuple[Callback, Callable[[], Any]], ...]] = {}
        self._ev_valid: dict[str, tuple[tuple[Callback, Callable[[], Any]], ...]] = {}
        self._disabled: set[int] = set()
        self._used: dict[str, _use.Used] = {}
        self._defaults: dict[str, _use.Used] = {}
        self._used_opt: tuple[str, Any, Any] | None = None
        self._rebuild()
        if default_cbs:
            _use.add_defaults(self, progress)
        self.add_cbs(cbs)
        for spec in use or ():
            name, kwargs = (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))
            self.use(name, **kwargs)
        self("after_create")

    @property

    def smooth_loss(self) -> Any:
        """Debiased moving average of the training loss (a tensor on the device), computed when read."""
        src = self._smooth_loss_source
        return src.value if src is not None else self._smooth_loss

    @smooth_loss.setter

    def smooth_loss(self, value: Any) -> None:
        self._smooth_loss_source, self._smooth_loss = None, value

    # -- metrics --------------------------------------------------------------------------------
    @property
    def metrics(self) -> list[Any]:
        """The epoch metrics (functions are wrapped in ``AvgMetric``)."""
        return self._metrics

    @metrics.setter

    def metrics(self, value: Any) -> None:
        if value is None:
            value = []
        elif not isinstance(value, (list, tuple)):
            value = [value]
        self._metrics = [mk_metric(m) for m in value]

    # -- event dispatch -------------------------------------------------------------------------
    def __call__(self, event_name: str | Iterable[str]) -> None:
        """Fire one event (or several, in order) to the callbacks."""
        names = [event_name] if isinstance(event_name, str) else list(event_name)
        for name in names:
            if name not in self._ev_train:
                raise ValueError(f"unknown event {name!r}; events are: {', '.join(EVENTS)}")
            self._fire(name)

    def _fire(self, name: str) -> None:
        for cb, meth in (self._ev_train if self.training else self._ev_valid)[name]:
            if not cb.run:
                continue
            try:
                meth()
            except CancelException:
                raise
            except BaseException as e:
                if not self._cb_error(cb, name, e):
                    raise

    def _describe(self, cb: Callback) -> str:
        """``'mixup' (MixUp, from torchloom-mixup 0.1.0)`` -- the distribution when a plugin provided it."""
        return _cbs.describe(self, cb)

    def _cb_error(self, cb: Callback, name: str, e: BaseException) -> bool:
        """Apply the callback's error policy; True means the error was swallowed."""
        if isinstance(e, Exception) and cb.on_error == "warn" and getattr(e, "_torchloom_where", None) is None:
            warnings.warn(
                f"callback {self._describe(cb)} failed in {name}: {type(e).__name__}: {e}. "
                f"It is disabled for the rest of this fit (on_error='warn').", RuntimeWarning, stacklevel=3)
            self._disabled.add(id(cb))
            self._rebuild()
            return True
        _annotate(e, f"in callback {self._describe(cb)} during event {name!r}")
        return False

    def _rebuild(self) -> None:
        """Sort the callbacks and precompute, per event, the bound methods that implement it."""
        self.cbs = sort_callbacks(self._insertion)
        train: dict[str, Any] = {}
        valid: dict[str, Any] = {}
        for ev in EVENTS:
            handlers = []
            for cb in self.cbs:
                if id(cb) in self._disabled:
                    continue
                meth = getattr(cb, ev, None)
                if meth is not None:
                    handlers.append((cb, meth))
            if ev in INNER_LOOP:
                train[ev] = tuple(h for h in handlers if h[0].run_train)
                valid[ev] = tuple(h for h in handlers if h[0].run_valid)
            else:
                train[ev] = valid[ev] = tuple(handlers)
        self._ev_train, self._ev_valid = train, valid

    def _cbs_changed(self) -> None:
        """Called by a callback when its ordering or run flags change."""
        self._rebuild()

    # -- callbacks ------------------------------------------------------------------------------
    def add_cb(self, cb: Callback | type[Callback]) -> Learner:
        """Add a callback (an instance or a class); ``learn.<cb.name>`` then points at it."""
        return _cbs.add_cb(self, cb)

    def add_cbs(self, cbs: Any) -> Learner:
        """Add several callbacks (None or a single one are accepted too)."""
        return _cbs.add_cbs(self, cbs)

    def remove_cb(self, cb: Any) -> Learner:
        """Remove a callback: an instance, every instance of a class, or by name."""
        return _cbs.remove_cb(self, cb)

    def remove_cbs(self, cbs: Any) -> Learner:
        return _cbs.remove_cbs(self, cbs)

    def added_cbs(self, cbs: Any) -> contextlib.AbstractContextManager[Learner]:
        """Callbacks present only inside the ``with`` block (``fit(cbs=...)`` uses this)."""
        return _cbs.added_cbs(self, cbs)

    def removed_cbs(self, cbs: Any) -> contextlib.AbstractContextManager[Learner]:
        """Callbacks taken out for the ``with`` block and put back afterwards (same position)."""
        return _cbs.removed_cbs(self, cbs)

    def ordered_cbs(self, event: str) -> list[Callback]:
        """The callbacks that handle ``event``, in the order they run (training phase)."""
        return _cbs.ordered_cbs(self, event)

    def order_report(self, event: str | None = None) -> str:
        """Text of :meth:`show_order`."""
        return _cbs.order_report(self, event)

    def show_order(self, event: str | None = None) -> None:
        """Print, per event, which callbacks run, in which order, and why (order value / constraint)."""
        print(self.order_report(event))

    show_training_loop = show_order

    # -- plugins --------------------------------------------------------------------------------
    def use(self, name: str, /, **kwargs: Any) -> Learner:
        """Switch on a registered callback (or optimizer) by name; returns the learner (chainable).

        Using an active name again with keyword arguments replaces its instance in place (same
        position); without arguments it is a no-op.
        """
        return _use.use(self, name, **kwargs)

    def unuse(self, name: str) -> Learner:
        """Switch off what ``use(name)`` switched on (or a default callback, e.g. ``"progress"``)."""
        return _use.unuse(self, name)

    def using(self, *names: Any, **kwargs: Any) -> contextlib.AbstractContextManager[Learner]:
        """``with learn.using("mixup", alpha=.4):`` -- plugins active only inside the block.

        Names may be strings or ``(name, kwargs)`` pairs; keyword arguments go to a single name.
        """
        return _use.using(self, *names, **kwargs)

    @property
    def plugins_used(self) -> dict[str, dict[str, str]]:
        """name -> {"dist", "version", "kind"} for everything switched on with ``use`` (saved in checkpoints)."""
        return _use.plugins_used(self)

    # -- optimizer ------------------------------------------------------------------------------
    def _resolve_opt_func(self) -> Callable[..., Any]:
        opt_func = self.opt_func
        if isinstance(opt_func, str):
            from torchloom._plugins.manager import get_registry  # discovery imports pluggy: only when needed

            entry = get_registry().entry("optimizer", opt_func)  # unknown: lists the optimizers, names the kind
            opt_func = entry.load()
        return opt_func

    def create_opt(self) -> None:
        """Build the optimizer from ``opt_func(splitter(model), lr=lr)`` with fastai's norm/bias rules."""
        opt_func = self._resolve_opt_func()
        opt = opt_func(self.splitter(self.model), lr=self.lr)
        if isinstance(opt, torch.optim.Optimizer):  # a plain torch optimizer: give it fastai's API
            opt = OptimWrapper(opt=opt)
        if not hasattr(opt, "set_hypers"):
            raise TypeError(f"opt_func returned {type(opt).__name__}, which has no set_hypers: use a torchloom "
                            f"optimizer (Adam, SGD...), OptimWrapper, or a torch.optim optimizer")
        self.opt = opt
        if hasattr(self.opt, "_flags") and hasattr(self.opt, "param_lists") and isinstance(self.model, nn.Module):
            set_norm_bias_flags(self.opt, self.model, self.wd_bn_bias, self.train_bn)

    # -- the loop -------------------------------------------------------------------------------
    def _with_events(self, f: Callable[[], Any], name: str, ex: type[BaseException]) -> None:
        try:
            self._fire("before_" + name)
            f()
        except ex:
            self._fire("after_cancel_" + name)
        self._fire("after_" + name)

    def _backward(self) -> None:
        self.loss_grad.backward()

    def _step(self) -> None:
        self.opt.step()

    def _do_one_batch(self) -> None:
        fire = self._fire
        self.pred = self.model(*self.xb)
        fire("after_pred")
        if self.yb:
            self.loss_grad = self.loss_func(self.pred, *self.yb)
            self.loss = self.loss_grad.detach()
        fire("after_loss")
        if not self.training or not self.yb:
            return
        self._with_events(self._backward, "backward", CancelBackwardException)
        self._with_events(self._step, "step", CancelStepException)
        self.opt.zero_grad()

    def one_batch(self, i: int, b: Any) -> None:
        """Run one batch: split it into ``xb``/``yb`` and fire the batch events around the step."""
        self.iter = i
        if self._batch_dev is not None:
            b = _to_device(b, self._batch_dev)
        if not isinstance(b, tuple):
            b = tuple(b) if isinstance(b, list) else (b,)
        n = self._n_inp
        if n is None:
            n = 1 if len(b) == 1 else len(b) - 1
        self.xb, self.yb = b[:n], b[n:]
        try:
            self._fire("before_batch")
            self._do_one_batch()
        except CancelBatchException:
            self._fire("after_cancel_batch")
        self._fire("after_batch")

    def _batch_device(self, dl: Any) -> torch.device | None:
        """Where batches must go: None when the loader already delivers them on the model's device."""
        if not isinstance(self.model, nn.Module):
            return None
        p = next(self.model.parameters(), None)
        if p is None:
            return None
        dl_dev = getattr(dl, "device", None)
        if dl_dev is None:
            dl_dev = getattr(self.dls, "device", None)
        if dl_dev is not None and _same_device(torch.device(dl_dev), p.device):
            return None
        return p.device

    def all_batches(self) -> None:
        """Iterate ``self.dl`` and run :meth:`one_batch` on each batch."""
        try:
            self.n_iter = len(self.dl)
        except TypeError:
            self.n_iter = 0
        self._batch_dev = self._batch_device(self.dl)
        self._n_inp = getattr(self.dls, "n_inp", None)
        for i, b in enumerate(self.dl):
            self.one_batch(i, b)

    def _do_epoch_train(self) -> None:
        self.dl = self.dls.train
        self._with_events(self.all_batches, "train", CancelTrainException)

    def _dl_at(self, ds_idx: int) -> Any:
        try:
            return self.dls[ds_idx]
        except (TypeError, KeyError, AttributeError, NotImplementedError):
            if ds_idx in (0, 1):
                return (self.dls.train, self.dls.valid)[ds_idx]
            raise

    def _do_epoch_validate(self, ds_idx: int = 1, dl: Any = None) -> None:
        if dl is None:
            try:
                dl = self._dl_at(ds_idx)
            except (IndexError, AttributeError):
                if ds_idx != 1:
                    raise
                dl = ()  # no validation set: the validate events fire over no batches
            if dl is None:
                dl = ()
        self.dl = dl
        with torch.no_grad():
            self._with_events(self.all_batches, "validate", CancelValidException)

    def _do_epoch(self) -> None:
        self._do_epoch_train()
        self._do_epoch_validate()

    def _do_fit(self) -> None:
        for epoch in range(self.start_epoch, self.n_epoch):
            self.epoch = epoch
            self._with_events(self._do_epoch, "epoch", CancelEpochException)

    def _fire_cleanup(self, exc: BaseException | None) -> list[tuple[Callback, BaseException]]:
        """``cleanup_fit`` to every callback, last-run first; each call guarded so all of them run."""
        errors = []
        for cb in reversed(self.cbs):
            fn = getattr(cb, "cleanup_fit", None)
            if fn is None:
                continue
            try:
                fn()
            except BaseException as e2:
                errors.append((cb, e2))
                if exc is not None:
                    exc.add_note(f"torchloom: while cleaning up, callback {cb.name!r} also raised in "
                                 f"cleanup_fit: {type(e2).__name__}: {e2}")
        return errors

    def _end_cleanup(self) -> None:
        self.dl, self.xb, self.yb, self.pred, self.loss, self.loss_grad = None, (None,), (None,), None, None, None
        for cb in self._insertion:
            cb.run = True
            if "_fit_handles" in cb.__dict__:
                cb._remove_fit_handles()
        if self._disabled:
            self._disabled.clear()
            self._rebuild()

    def _run_fit(self, body: Callable[[], Any], cbs: Any = None) -> None:
        """Fire the fit events around ``body`` with guaranteed cleanup (shared by fit and inference).

        A fit started from inside a fit (a callback calling ``learn.fit``) is not supported."""
        snap = _Snapshot(self)
        with self.added_cbs(cbs):
            self._fit_depth += 1
            try:
                self._with_events(body, "fit", CancelFitException)
            except BaseException as e:
                self._fit_depth -= 1
                _annotate(e, f"in the training loop itself (epoch {self.epoch}, iter {self.iter}, "
                             f"{'training' if self.training else 'validation'}), not inside a callback")
                self._fire_cleanup(e)
                snap.restore(self)
                self._end_cleanup()
                raise
            self._fit_depth -= 1
            errors = self._fire_cleanup(None)
            self._end_cleanup()
            if errors:
                cb, err = errors[0]
                _annotate(err, f"in callback {cb.name!r} ({type(cb).__name__}) during event 'cleanup_fit'")
                raise err

    def fit(self, n_epoch: int, lr: float | slice | None = None, wd: float | None = None, cbs: Any = None,
            reset_opt: bool = False, start_epoch: int = 0, resume: Any = None) -> None:
        """Train for ``n_epoch`` epochs (from ``start_epoch``, or from a checkpoint with ``resume``)."""
        if resume is not None:
            start_epoch = self.load_checkpoint(resume)
        if reset_opt or self.opt is None:
            self.create_opt()
        if wd is None:
            wd = self.wd
        if wd is not None:
            self.opt.set_hypers(wd=wd)
        self.opt.set_hypers(lr=self.lr if lr is None else lr)
        self.n_epoch, self.start_epoch = n_epoch, start_epoch
        self._run_fit(self._do_fit, cbs)

    # -- quiet modes ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_logging(self) -> Iterator[Learner]:
        """No epoch table / log lines inside the block."""
        old, self.logger = self.logger, noop
        try:
            yield self
        finally:
            self.logger = old

    @contextlib.contextmanager

    def no_bar(self) -> Iterator[Learner]:
        """No progress bar inside the block."""
        with self.removed_cbs("progress"):
            yield self

    # -- inference ------------------------------------------------------------------------------
    def loss_not_reduced(self) -> contextlib.AbstractContextManager[None]:
        """The loss function returns one value per item inside the block."""
        return _infer.loss_not_reduced(self)

    def get_preds(self, ds_idx: int = 1, dl: Any = None, with_input: bool = False, with_decoded: bool = False,
                  with_loss: bool = False, act: Callable[[Any], Any] | None = None, reorder: bool = True,
                  cbs: Any = None, inner: bool = False) -> tuple[Any, ...]:
        """Predictions on a dataset: ``(inputs?, preds, targets, decoded?, losses?)`` in dataset order.

        ``act`` defaults to ``loss_func.activation`` (softmax for CrossEntropyLossFlat); ``decoded``
        applies ``loss_func.decodes`` (argmax); ``with_loss`` gives one loss per item.
        """
        return _infer.get_preds(self, ds_idx, dl, with_input, with_decoded, with_loss, act, reorder, cbs, inner)

    def validate(self, ds_idx: int = 1, dl: Any = None, cbs: Any = None) -> list[float]:
        """``[valid_loss, *metrics]`` on a dataset (the Recorder's columns), without touching history."""
        return _infer.validate(self, ds_idx, dl, cbs)

    def predict(self, item: Any, rm_type_tfms: Any = None, with_input: bool = False) -> tuple[Any, ...]:
        """``(decoded_target, decoded_pred, probs)`` for one item, through ``dls.test_dl`` and ``decode_batch``."""
        return _infer.predict(self, item, rm_type_tfms, with_input)

    def show_results(self, ds_idx: int = 1, dl: Any = None, max_n: int = 9, shuffle: bool = True,
                     **kwargs: Any) -> Any:
        """Show inputs, targets and predictions for one batch (drawing is done by the data's types)."""
        return _infer.show_results(self, ds_idx, dl, max_n, shuffle, **kwargs)

    # -- persistence (torchloom._persist.learner_io) -----------------------------------------------
    def save(self, file: str | os.PathLike, with_opt: bool = True) -> Path:
        """Write the model weights (and optimizer state) to ``path/model_dir/file.safetensors``, atomically."""
        return _io.save(self, file, with_opt)

    def load(self, file: str | os.PathLike, device: Any = None, with_opt: bool = True, strict: bool = True
             ) -> Learner:
        """Load what ``save`` wrote; refuses pickles. Returns the learner."""
        return _io.load(self, file, device, with_opt, strict)

    def save_checkpoint(self, file: str | os.PathLike = "checkpoint", epoch: int | None = None) -> Path:
        """Everything needed to continue training after ``epoch`` (default: the current one) exactly."""
        return _io.save_checkpoint(self, file, epoch)

    def load_checkpoint(self, file: str | os.PathLike) -> int:
        """Restore a checkpoint; returns the epoch to start from (the one after the saved epoch)."""
        return _io.load_checkpoint(self, file)

    def export(self, fname: str | os.PathLike = "export") -> Path:
        """Write a self-describing inference artifact: weights + model/loss/data specs + plugin versions."""
        return _io.export(self, fname)

    # -- fit recipes and freezing (torchloom._learner_fit) -----------------------------------------
    def fit_one_cycle(self, n_epoch: int, lr_max: Any = None, div: float = 25.0, div_final: float = 1e5,
                      pct_start: float = 0.25, wd: float | None = None, moms: Sequence[float] | None = None,
                      cbs: Any = None, reset_opt: bool = False, start_epoch: int = 0, resume: Any = None) -> None:
        """1cycle policy: lr warms up to ``lr_max`` over ``pct_start``, then anneals; momentum the other way."""
        _fit.fit_one_cycle(self, n_epoch, lr_max, div, div_final, pct_start, wd, moms, cbs, reset_opt, start_epoch,
                           resume)

    def fit_flat_cos(self, n_epoch: int, lr: Any = None, div_final: float = 1e5, pct_start: float = 0.75,
                     wd: float | None = None, cbs: Any = None, reset_opt: bool = False, start_epoch: int = 0,
                     resume: Any = None) -> None:
        """Flat learning rate for ``pct_start`` of training, then cosine annealing."""
        _fit.fit_flat_cos(self, n_epoch, lr, div_final, pct_start, wd, cbs, reset_opt, start_epoch, resume)

    def fit_sgdr(self, n_cycles: int, cycle_len: int, lr_max: Any = None, cycle_mult: int = 2, cbs: Any = None,
                 reset_opt: bool = False, wd: float | None = None, start_epoch: int = 0, resume: Any = None) -> None:
        """SGD with warm restarts: ``n_cycles`` cosine cycles, each ``cycle_mult`` times longer."""
        _fit.fit_sgdr(self, n_cycles, cycle_len, lr_max, cycle_mult, cbs, reset_opt, wd, start_epoch, resume)

    def fine_tune(self, epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1, lr_mult: float = 100,
                  pct_start: float = 0.3, div: float = 5.0, **kwargs: Any) -> None:
        """Transfer learning: train the head frozen, then everything with discriminative rates."""
        _fit.fine_tune(self, epochs, base_lr, freeze_epochs, lr_mult, pct_start, div, **kwargs)

    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10, num_it: int = 100, stop_div: bool = True,
                show_plot: bool = False, suggest_funcs: Any = (valley,)) -> Any:
        """Run the LR range test (weights and optimizer restored after); returns the suggested rates."""
        return _fit.lr_find(self, start_lr, end_lr, num_it, stop_div, show_plot, suggest_funcs)

    def freeze_to(self, n: int) -> None:
        """Train only parameter groups ``n`` onwards (norm layers too if ``train_bn``); resets optimizer stats."""
        _fit.freeze_to(self, n)

    def freeze(self) -> None:
        """Train only the last parameter group."""
        _fit.freeze(self)

    def unfreeze(self) -> None:
        """Train every parameter group."""
        _fit.unfreeze(self)
