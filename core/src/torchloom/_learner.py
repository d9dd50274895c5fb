"""The hook-only Learner: the loop runs forward, loss, backward, step, zero_grad and fires events;
everything else is a callback. Dispatch walks per-event lists of bound methods, rebuilt only when
the callbacks change. The rest of the Learner's methods live in ``_learner_*`` modules.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import torchloom._deploy.export as _dexport
import torchloom._learner_cbs as _cbs
import torchloom._learner_fit as _fit
import torchloom._learner_guard as _guard
import torchloom._learner_infer as _infer
import torchloom._learner_opt as _opt
import torchloom._learner_quiet as _quiet
import torchloom._learner_use as _use
import torchloom._persist.learner_io as _io
import torchloom._summary as _summary
import torchloom._tta as _tta
from torchloom._learner_guard import Snapshot as _Snapshot
from torchloom._learner_guard import annotate as _annotate
from torchloom._losses import loss_func_from_data
from torchloom._metrics import mk_metrics
from torchloom._tensors import batch_to_device, same_device
from torchloom.callbacks._base import (
    EVENTS,
    Callback,
    CancelBackwardException,
    CancelBatchException,
    CancelEpochException,
    CancelException,
    CancelFitException,
    CancelStepException,
    CancelTrainException,
    CancelValidException,
)

__all__ = ["Learner", "trainable_params"]

def trainable_params(m: nn.Module) -> list[nn.Parameter]:
    """The default splitter: one parameter group with every parameter that requires grad."""
    return [p for p in m.parameters() if p.requires_grad]


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
        self.dls, self.model = dls, model
        self.loss_func = loss_func_from_data(dls) if loss_func is None else loss_func
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
        self._first_param: tuple[Any, Any] | None = None  # (model, its first parameter) during a fit
        self._n_inp: int | None = None
        # callbacks
        self._insertion: list[Callback] = []
        self.cbs: list[Callback] = []
        self._ev_train: dict[str, tuple[tuple[Callback, Callable[[], Any]], ...]] = {}
        self._ev_valid: dict[str, tuple[tuple[Callback, Callable[[], Any]], ...]] = {}
        self._plain_step = False  # no backward/step handlers: set by _rebuild
        self._disabled: set[int] = set()
        self._used: dict[str, _use.Used] = {}
        self._defaults: dict[str, _use.Used] = {}
        self._used_opt: tuple[str, Any, Any] | None = None
        self._rebuild()
        if default_cbs:
            _use.add_defaults(self, progress)
        self.add_cbs(cbs)
        _use.use_specs(self, use)
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
        self._metrics = mk_metrics(value)

    # -- event dispatch -------------------------------------------------------------------------
    def __call__(self, event_name: str | Iterable[str]) -> None:
        """Fire one event (or several, in order) to the callbacks."""
        names = [event_name] if isinstance(event_name, str) else list(event_name)
        for name in names:
            if name not in self._ev_train:
                raise ValueError(f"unknown event {name!r}; events are: {', '.join(EVENTS)}")
            self._fire(name)

    def _fire(self, name: str) -> None:
        self._run((self._ev_train if self.training else self._ev_valid)[name], name)

    def _run(self, handlers: tuple[tuple[Callback, Callable[[], Any]], ...], name: str) -> None:
        """Call the handlers of event ``name`` (the hot loop checks ``if handlers`` first: no call when empty)."""
        for cb, meth in handlers:
            if not cb.run:
                continue
            try:
                meth()
            except CancelException:
                raise
            except BaseException as e:
                if not self._cb_error(cb, name, e):
                    raise

    _describe = _cbs.describe
    _cb_error = _cbs.cb_error
    _rebuild = _cbs.rebuild
    _cb_event_changed = _cbs.cb_event_changed
    _cbs_changed = _cbs.cbs_changed


    add_cb = _cbs.add_cb
    add_cbs = _cbs.add_cbs
    remove_cb = _cbs.remove_cb
    remove_cbs = _cbs.remove_cbs
    added_cbs = _cbs.added_cbs
    removed_cbs = _cbs.removed_cbs
    ordered_cbs = _cbs.ordered_cbs
    order_report = _cbs.order_report
    show_order = show_training_loop = _cbs.show_order
    summary = _summary.model_summary

    # -- plugins --------------------------------------------------------------------------------
    use = _use.use
    unuse = _use.unuse
    using = _use.using
    plugins_used = property(_use.plugins_used)

    # -- optimizer (torchloom._learner_opt) -------------------------------------------------------
    create_opt = _opt.create_opt

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
        # Per-batch events are looked up where they fire (a handler set mid-fit is seen at once: the tables
        # are updated in place) and dispatched only when some callback handles them.
        ev = self._ev_train if self.training else self._ev_valid
        self.pred = self.model(*self.xb)
        if hs := ev["after_pred"]:
            self._run(hs, "after_pred")
        if yb := self.yb:
            self.loss_grad = loss = self.loss_func(self.pred, *yb)
            self.loss = loss.detach()
        if hs := ev["after_loss"]:
            self._run(hs, "after_loss")
        if not self.training or not self.yb:
            return
        if self._plain_step:  # what the branch below does when no callback handles these events
            try:
                self._backward()
            except CancelBackwardException:
                pass
            try:
                self._step()
            except CancelStepException:
                pass
        else:
            self._with_events(self._backward, "backward", CancelBackwardException)
            self._with_events(self._step, "step", CancelStepException)
        self.opt.zero_grad()

    def one_batch(self, i: int, b: Any) -> None:
        """Run one batch: split it into ``xb``/``yb`` and fire the batch events around the step."""
        self.iter = i
        if self._batch_dev is not None:
            b = batch_to_device(b, self._batch_dev)
        if not isinstance(b, tuple):
            b = tuple(b) if isinstance(b, list) else (b,)
        n = self._n_inp
        if n is None:
            n = 1 if len(b) == 1 else len(b) - 1
        self.xb, self.yb = b[:n], b[n:]
        ev = self._ev_train if self.training else self._ev_valid
        try:
            if hs := ev["before_batch"]:
                self._run(hs, "before_batch")
            self._do_one_batch()
        except CancelBatchException:
            self._fire("after_cancel_batch")
        if hs := ev["after_batch"]:
            self._run(hs, "after_batch")

    def _batch_device(self, dl: Any) -> torch.device | None:
        """Where batches must go: None when the loader already delivers them on the model's device."""
        model = self.model
        if not isinstance(model, nn.Module):
            return None
        cached = self._first_param
        if cached is not None and cached[0] is model:
            p = cached[1]  # the same Parameter object follows the module through .to(); only its device changes
        else:
            p = next(model.parameters(), None)
            self._first_param = (model, p)  # dropped when the fit ends: parameters may be replaced between fits
        if p is None:
            return None
        dl_dev = getattr(dl, "device", None)
        if dl_dev is None:
            dl_dev = getattr(self.dls, "device", None)
        if dl_dev is not None and same_device(dl_dev if isinstance(dl_dev, torch.device) else torch.device(dl_dev),
                                              p.device):
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

    _fire_cleanup = _guard.fire_cleanup
    _end_cleanup = _guard.end_cleanup

    def _run_fit(self, body: Callable[[], Any], cbs: Any = None) -> None:
        """Fire the fit events around ``body`` with guaranteed cleanup (shared by fit and inference).

        A fit started from inside a fit (a callback calling ``learn.fit``) is not supported."""
        snap = _Snapshot(self)
        self._first_param = None
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
    no_logging = _quiet.no_logging
    no_bar = _quiet.no_bar

    # -- inference ------------------------------------------------------------------------------
    loss_not_reduced = _infer.loss_not_reduced
    get_preds = _infer.get_preds
    validate = _infer.validate
    predict = _infer.predict
    show_results = _infer.show_results

    # -- persistence (torchloom._persist.learner_io) -----------------------------------------------
    save = _io.save
    load = _io.load
    save_checkpoint = _io.save_checkpoint
    load_checkpoint = _io.load_checkpoint
    export = _dexport.export

    tta = _tta.tta

    # -- fit recipes and freezing (torchloom._learner_fit) -----------------------------------------
    fit_one_cycle = _fit.fit_one_cycle
    fit_flat_cos = _fit.fit_flat_cos
    fit_sgdr = _fit.fit_sgdr
    fine_tune = _fit.fine_tune
    lr_find = _fit.lr_find
    freeze_to = _fit.freeze_to
    freeze = _fit.freeze
    unfreeze = _fit.unfreeze
