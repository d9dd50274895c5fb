"""The hook-only Learner: the loop runs forward, loss, backward, step, zero_grad and fires events.

Everything else (train/eval switching, recording, progress, schedules, mixup, fp16...) is a callback.
Beyond fastai: a guaranteed ``cleanup_fit`` event and state restoration when an exception escapes a
fit, real ``before``/``after`` ordering, per-callback error policy, and ``learn.use(name)`` over the
plugin registry. Event dispatch uses per-event lists of bound methods rebuilt only when the
callbacks change, so the per-batch cost is a few list walks.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .callback import (
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
    cb_aliases,
    order_edges,
    sort_callbacks,
)
from .persist.learner_io import PersistMixin
from .plugins.errors import PluginError
from .schedule import ScheduleMixin
from .tta import TTAMixin

__all__ = ["Learner", "PluginConflictError", "trainable_params"]


def trainable_params(m: nn.Module) -> list[nn.Parameter]:
    """The default splitter: one parameter group with every parameter that requires grad."""
    return [p for p in m.parameters() if p.requires_grad]


class PluginConflictError(PluginError, ValueError):
    """``learn.use`` refused a plugin: a conflict, a taken slot or a missing requirement."""


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


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


@dataclass
class _Used:
    """A callback switched on by ``learn.use`` and the registry entry it came from."""

    entry: Any
    cb: Callback
    kwargs: dict[str, Any]


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


class Learner(ScheduleMixin, PersistMixin, TTAMixin):
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
        self._used: dict[str, _Used] = {}
        self._defaults: dict[str, _Used] = {}
        self._used_opt: tuple[str, Any, Any] | None = None
        self._rebuild()
        if default_cbs:
            self._add_defaults(progress)
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
        from .metrics import mk_metric

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
        for reg in (self._used, self._defaults):
            for u in reg.values():
                if u.cb is cb:
                    return f"{cb.name!r} ({type(cb).__name__}, from {u.entry.dist} {u.entry.version})"
        return f"{cb.name!r} ({type(cb).__name__})"

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
        if isinstance(cb, type) and issubclass(cb, Callback):
            cb = cb()
        if not isinstance(cb, Callback):
            raise TypeError(f"add_cb expects a Callback instance or subclass, got {cb!r} ({type(cb).__name__}); "
                            f"wrap plain functions with Callback(before_batch=fn) or @callback('before_batch')")
        if cb.on_error not in ("raise", "warn"):
            raise ValueError(f"callback {cb.name!r}: on_error must be 'raise' or 'warn', got {cb.on_error!r}")
        if any(c is cb for c in self._insertion):
            return self
        other = cb.__dict__.get("learn")
        if other is not None and other is not self:
            raise ValueError(f"callback {cb.name!r} ({type(cb).__name__}) is already attached to another Learner; "
                             f"create a new instance for this one")
        cb.learn = self
        self._insertion.append(cb)
        try:
            self._rebuild()
        except Exception:
            self._insertion.remove(cb)
            object.__setattr__(cb, "learn", None)
            self._rebuild()
            raise
        self._set_cb_attr(cb)
        return self

    def add_cbs(self, cbs: Any) -> Learner:
        """Add several callbacks (None or a single one are accepted too)."""
        if cbs is None:
            return self
        for cb in cbs if isinstance(cbs, (list, tuple)) else [cbs]:
            self.add_cb(cb)
        return self

    def _set_cb_attr(self, cb: Callback) -> None:
        name = cb.name
        taken = hasattr(type(self), name) or (name in self.__dict__ and not isinstance(self.__dict__[name], Callback))
        if not taken:
            setattr(self, name, cb)
        else:
            warnings.warn(f"callback {type(cb).__name__} is named {name!r}, which is already a Learner attribute; "
                          f"it is not reachable as learn.{name}", RuntimeWarning, stacklevel=3)

    def _match(self, cb: Any) -> list[Callback]:
        if isinstance(cb, Callback):
            return [c for c in self._insertion if c is cb]
        if isinstance(cb, type):
            return [c for c in self._insertion if isinstance(c, cb)]
        if isinstance(cb, str):
            return [c for c in self._insertion if cb in cb_aliases(c)]
        raise TypeError(f"remove_cb expects a Callback, a Callback class or a name, got {cb!r}")

    def remove_cb(self, cb: Any) -> Learner:
        """Remove a callback: an instance, every instance of a class, or by name."""
        for c in self._match(cb):
            self._insertion.remove(c)
            if self.__dict__.get(c.name) is c:
                delattr(self, c.name)
                for rest in self._insertion:  # another callback with that name takes the attribute
                    if rest.name == c.name:
                        setattr(self, c.name, rest)
            for reg in (self._used, self._defaults):
                for n in [n for n, u in reg.items() if u.cb is c]:
                    del reg[n]
            self._disabled.discard(id(c))
            object.__setattr__(c, "learn", None)
        self._rebuild()
        return self

    def remove_cbs(self, cbs: Any) -> Learner:
        for cb in cbs if isinstance(cbs, (list, tuple)) else [cbs]:
            self.remove_cb(cb)
        return self

    @contextlib.contextmanager
    def added_cbs(self, cbs: Any) -> Iterator[Learner]:
        """Callbacks present only inside the ``with`` block (``fit(cbs=...)`` uses this)."""
        new = [c() if isinstance(c, type) else c for c in (cbs if isinstance(cbs, (list, tuple)) else [cbs])
               ] if cbs is not None else []
        new = [c for c in new if not any(c is x for x in self._insertion)]
        self.add_cbs(new)
        try:
            yield self
        finally:
            self.remove_cbs(new)

    @contextlib.contextmanager
    def removed_cbs(self, cbs: Any) -> Iterator[Learner]:
        """Callbacks taken out for the ``with`` block and put back afterwards (same position)."""
        targets = [c for x in (cbs if isinstance(cbs, (list, tuple)) else [cbs]) for c in self._match(x)]
        saved = (list(self._insertion), dict(self._used), dict(self._defaults))
        self.remove_cbs(targets)
        try:
            yield self
        finally:
            insertion, used, defaults = saved
            for c in targets:
                c.learn = self
            now = self._insertion
            self._insertion = [c for c in insertion if any(c is t for t in targets) or any(c is x for x in now)]
            self._insertion += [c for c in now if not any(c is x for x in self._insertion)]
            self._used.update({n: u for n, u in used.items() if any(u.cb is t for t in targets)})
            self._defaults.update({n: u for n, u in defaults.items() if any(u.cb is t for t in targets)})
            self._rebuild()
            for c in targets:
                self._set_cb_attr(c)

    def ordered_cbs(self, event: str) -> list[Callback]:
        """The callbacks that handle ``event``, in the order they run (training phase)."""
        return [cb for cb, _ in self._ev_train[event]]

    def order_report(self, event: str | None = None) -> str:
        """Text of :meth:`show_order`."""
        events = [event] if event is not None else [e for e in EVENTS if self._ev_train.get(e)]
        if event is not None and event not in self._ev_train:
            raise ValueError(f"unknown event {event!r}; events are: {', '.join(EVENTS)}")
        edges = order_edges(self.cbs)
        why: dict[int, list[str]] = {i: [] for i in range(len(self.cbs))}
        for i, js in edges.items():
            for j, reason in js.items():
                why[j].append(f"after {self.cbs[i].name} ({reason})")
                why[i].append(f"before {self.cbs[j].name} ({reason})")
        pos = {id(cb): i for i, cb in enumerate(self.cbs)}
        lines = []
        for ev in events:
            lines.append(f"{ev}:" + ("  (reverse order, like exiting nested `with` blocks)" if ev == "cleanup_fit"
                                     else ""))
            handlers = self._ev_train[ev]
            if ev == "cleanup_fit":
                handlers = tuple(reversed(handlers))
            if not handlers:
                lines.append("  (no callback)")
            for k, (cb, _) in enumerate(handlers, 1):
                flags = []
                if ev in INNER_LOOP and not cb.run_valid:
                    flags.append("training only")
                if ev in INNER_LOOP and not cb.run_train:
                    flags.append("validation only")
                reasons = [f"order={cb.order}"] + why[pos[id(cb)]] + flags
                lines.append(f"  {k}. {cb.name:<20} {type(cb).__name__:<22} " + "; ".join(reasons))
        return "\n".join(lines)

    def show_order(self, event: str | None = None) -> None:
        """Print, per event, which callbacks run, in which order, and why (order value / constraint)."""
        print(self.order_report(event))

    show_training_loop = show_order

    # -- plugins --------------------------------------------------------------------------------
    def _instantiate(self, entry: Any, kwargs: dict[str, Any]) -> Callback:
        target = entry.load()
        where = f"{entry.kind} {entry.name!r} ({entry.dist} {entry.version}, {entry.target_path})"
        try:
            if isinstance(target, Callback):
                if kwargs:
                    raise TypeError("it is registered as an instance, so it takes no keyword arguments")
                cb = copy.copy(target)
                object.__setattr__(cb, "learn", None)
            else:
                cb = target(**kwargs)
        except TypeError as e:
            raise TypeError(f"cannot create {where} with {kwargs}: {e}") from e
        if not isinstance(cb, Callback):
            raise TypeError(f"{where} did not produce a Callback (got {type(cb).__name__})")
        if entry.order is not None:
            cb.order = entry.order
        if entry.before:
            cb.before = tuple(entry.before)
        if entry.after:
            cb.after = tuple(entry.after)
        object.__setattr__(cb, "_registry_name", entry.name)
        try:
            cb.name = entry.name  # learn.<registered name>; other callbacks may also use the class name
        except AttributeError:  # a read-only ``name`` property on the class: keep it
            pass
        return cb

    def _add_defaults(self, progress: bool) -> None:
        from .plugins.registry import get_registry

        for entry in get_registry().defaults("callback"):
            if entry.name == "progress" and not progress:
                continue
            cb = self._instantiate(entry, {})
            self.add_cb(cb)
            self._defaults[entry.name] = _Used(entry, cb, {})

    def _active_entries(self) -> dict[str, Any]:
        return {**{n: u.entry for n, u in self._defaults.items()}, **{n: u.entry for n, u in self._used.items()}}

    def _check_compat(self, entry: Any) -> None:
        me = f"{entry.name!r} ({entry.dist} {entry.version})"
        active = self._active_entries()
        for name, other in active.items():
            them = f"{name!r} ({other.dist} {other.version})"
            if name in entry.conflicts or entry.name in other.conflicts:
                raise PluginConflictError(f"cannot use {me}: it conflicts with {them}, which is active on this "
                                          f"Learner; call learn.unuse({name!r}) first")
            if entry.slot is not None and entry.slot == other.slot:
                raise PluginConflictError(f"cannot use {me}: the exclusive slot {entry.slot!r} is taken by {them}; "
                                          f"call learn.unuse({name!r}) first")
        present = set(active) | {a for cb in self._insertion for a in cb_aliases(cb)}
        missing = [r for r in entry.requires if r not in present]
        if missing:
            raise PluginConflictError(f"cannot use {me}: it requires {', '.join(map(repr, missing))}, which "
                                      f"{'is' if len(missing) == 1 else 'are'} not active; call "
                                      + " and ".join(f"learn.use({m!r})" for m in missing) + " first")

    def use(self, name: str, /, **kwargs: Any) -> Learner:
        """Switch on a registered callback (or optimizer) by name; returns the learner (chainable).

        Using an active name again with keyword arguments replaces its instance in place (same
        position); without arguments it is a no-op.
        """
        from .plugins.registry import get_registry

        if not isinstance(name, str):
            raise TypeError(f"learn.use expects a registered name (str), got {name!r}; use add_cb for instances")
        reg = get_registry()
        entry = reg.get("callback", name)
        if entry is None:
            stepper = reg.get("stepper", name)
            if stepper is not None and stepper.extra.get("optimizer"):
                previous = self._used_opt[2] if self._used_opt else self.opt_func
                self.opt_func = functools.partial(stepper.load(), **kwargs) if kwargs else name
                self.opt = None
                self._used_opt = (name, stepper, previous)
                return self
            reg.entry("callback", name)  # raises UnknownNameError with the helpful message
        book = self._defaults if name in self._defaults else self._used
        used = book.get(name)
        if used is None:  # the same callback class added by hand counts as this name
            target = entry.load()
            same = [c for c in self._insertion if isinstance(target, type) and type(c) is target]
            if same:
                used = self._used[name] = _Used(entry, same[0], {})
        if used is not None:
            if kwargs:
                new = self._instantiate(entry, kwargs)
                self._replace_cb(used.cb, new)
                book[name] = _Used(entry, new, kwargs)
            return self
        self._check_compat(entry)
        cb = self._instantiate(entry, kwargs)
        self._used[name] = _Used(entry, cb, kwargs)
        try:
            self.add_cb(cb)
        except BaseException:
            self._used.pop(name, None)
            raise
        return self

    def _replace_cb(self, old: Callback, new: Callback) -> None:
        new.learn = self
        self._insertion = [new if c is old else c for c in self._insertion]
        object.__setattr__(old, "learn", None)
        self._disabled.discard(id(old))
        self._rebuild()
        self._set_cb_attr(new)

    def unuse(self, name: str) -> Learner:
        """Switch off what ``use(name)`` switched on (or a default callback, e.g. ``"progress"``)."""
        if self._used_opt is not None and self._used_opt[0] == name:
            self.opt_func, self.opt, self._used_opt = self._used_opt[2], None, None
            return self
        used = self._used.get(name) or self._defaults.get(name)
        if used is None:
            active = sorted(self._used) + ([self._used_opt[0]] if self._used_opt else [])
            raise KeyError(f"{name!r} is not in use on this Learner; in use: {', '.join(active) or '(nothing)'}")
        self.remove_cb(used.cb)
        return self

    @contextlib.contextmanager
    def using(self, *names: Any, **kwargs: Any) -> Iterator[Learner]:
        """``with learn.using("mixup", alpha=.4):`` -- plugins active only inside the block.

        Names may be strings or ``(name, kwargs)`` pairs; keyword arguments go to a single name.
        """
        specs = [(n, {}) if isinstance(n, str) else (n[0], dict(n[1])) for n in names]
        if kwargs:
            if len(specs) != 1:
                raise TypeError("using(name, **kwargs) takes keyword arguments only with a single name; "
                                "pass (name, kwargs) pairs for several")
            specs[0][1].update(kwargs)
        prior = {n: self._used.get(n) for n, _ in specs}
        prior_opt = (self.opt_func, self.opt, self._used_opt)
        try:
            for n, kw in specs:
                self.use(n, **kw)
            yield self
        finally:
            for n, _ in reversed(specs):
                before, now = prior[n], self._used.get(n)
                if before is None and now is not None:
                    self.unuse(n)
                elif before is not None and now is not None and now.cb is not before.cb:
                    self._replace_cb(now.cb, before.cb)
                    self._used[n] = before
            self.opt_func, self.opt, self._used_opt = prior_opt

    @property
    def plugins_used(self) -> dict[str, dict[str, str]]:
        """name -> {"dist", "version", "kind"} for everything switched on with ``use`` (saved in checkpoints)."""
        out = {n: {"dist": u.entry.dist, "version": u.entry.version, "kind": u.entry.kind}
               for n, u in self._used.items()}
        if self._used_opt is not None:
            n, e, _ = self._used_opt
            out[n] = {"dist": e.dist, "version": e.version, "kind": e.kind}
        return out

    # -- optimizer ------------------------------------------------------------------------------
    def _resolve_opt_func(self) -> Callable[..., Any]:
        opt_func = self.opt_func
        if isinstance(opt_func, str):
            from .plugins.registry import get_registry

            entry = get_registry().entry("stepper", opt_func)
            if not entry.extra.get("optimizer"):
                raise ValueError(f"opt_func={opt_func!r} names a stepper function ({entry.dist}), not an optimizer; "
                                 f"registered optimizers are the stepper entries with optimizer=True")
            opt_func = entry.load()
        return opt_func

    def create_opt(self) -> None:
        """Build the optimizer from ``opt_func(splitter(model), lr=lr)`` with fastai's norm/bias rules."""
        opt_func = self._resolve_opt_func()
        opt = opt_func(self.splitter(self.model), lr=self.lr)
        if isinstance(opt, torch.optim.Optimizer):  # a plain torch optimizer: give it fastai's API
            from .optim.wrapper import OptimWrapper

            opt = OptimWrapper(opt=opt)
        if not hasattr(opt, "set_hypers"):
            raise TypeError(f"opt_func returned {type(opt).__name__}, which has no set_hypers: use a torchloom "
                            f"optimizer (Adam, SGD...), OptimWrapper, or a torch.optim optimizer")
        self.opt = opt
        if hasattr(self.opt, "_flags") and hasattr(self.opt, "param_lists") and isinstance(self.model, nn.Module):
            from .optim.optimizer import set_norm_bias_flags

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
            start_epoch = self.load_checkpoint(resume)  # type: ignore[attr-defined]  # PersistMixin
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
        old, self.logger = self.logger, _noop
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
    @contextlib.contextmanager
    def loss_not_reduced(self) -> Iterator[None]:
        """The loss function returns one value per item inside the block."""
        lf = self.loss_func
        if hasattr(lf, "reduction"):
            old, lf.reduction = lf.reduction, "none"
            try:
                yield
            finally:
                lf.reduction = old
        else:
            self.loss_func = functools.partial(lf, reduction="none")
            try:
                yield
            finally:
                self.loss_func = lf

    _LOOP_COUNTERS = ("dl", "iter", "n_iter", "epoch", "training", "train_iter", "pct_train", "xb", "yb", "pred",
                      "loss", "loss_grad", "_batch_dev", "_n_inp")

    def _inference_run(self, dl: Any, cbs: list[Callback], inner: bool = False) -> None:
        old = self.is_inference
        saved = {k: getattr(self, k) for k in self._LOOP_COUNTERS}  # inference may run inside a fit
        modes = _Snapshot(self).modes
        self.is_inference = True
        try:
            with self.no_logging(), self.no_bar():
                if inner or self._fit_depth:  # inside a fit, the fit-level events already ran
                    with self.added_cbs(cbs):
                        self._do_epoch_validate(dl=dl)
                else:
                    self._run_fit(lambda: self._do_epoch_validate(dl=dl), cbs)
        finally:
            self.is_inference = old
            for k, v in saved.items():
                setattr(self, k, v)
            for m, mode in modes:
                m.training = mode

    def get_preds(self, ds_idx: int = 1, dl: Any = None, with_input: bool = False, with_decoded: bool = False,
                  with_loss: bool = False, act: Callable[[Any], Any] | None = None, reorder: bool = True,
                  cbs: Any = None, inner: bool = False) -> tuple[Any, ...]:
        """Predictions on a dataset: ``(inputs?, preds, targets, decoded?, losses?)`` in dataset order.

        ``act`` defaults to ``loss_func.activation`` (softmax for CrossEntropyLossFlat); ``decoded``
        applies ``loss_func.decodes`` (argmax); ``with_loss`` gives one loss per item.
        """
        from .callbacks.core import GatherPreds

        if dl is None:
            dl = self._dl_at(ds_idx)
        dl, order = _inference_loader(dl, reorder)
        gather = GatherPreds(with_input=with_input, with_loss=with_loss)
        extra = [] if cbs is None else list(cbs if isinstance(cbs, (list, tuple)) else [cbs])
        with self.loss_not_reduced() if with_loss else contextlib.nullcontext():
            self._inference_run(dl, [gather, *extra], inner=inner)
        res = gather.result()
        pred_i = 1 if with_input else 0
        if res[pred_i] is not None:
            if act is None:
                act = getattr(self.loss_func, "activation", None)
            if act is not None:
                res[pred_i] = act(res[pred_i])
            if with_decoded:
                dec = getattr(self.loss_func, "decodes", None)
                res.insert(pred_i + 2, dec(res[pred_i]) if dec is not None else res[pred_i])
        if order is not None:
            inv = torch.as_tensor(order).argsort()
            res = [_reorder(r, inv) for r in res]
        return tuple(res)

    def validate(self, ds_idx: int = 1, dl: Any = None, cbs: Any = None) -> list[float]:
        """``[valid_loss, *metrics]`` on a dataset (the Recorder's columns), without touching history."""
        from .callbacks.core import Recorder

        rec = next((c for c in self.cbs if isinstance(c, Recorder)), None)
        extra = [] if cbs is None else list(cbs if isinstance(cbs, (list, tuple)) else [cbs])
        temp = [] if rec is not None else [Recorder(add_time=False)]
        if dl is None:
            dl = self._dl_at(ds_idx)
        saved_attr = self.__dict__.get("recorder")
        self._inference_run(dl, temp + extra)
        if temp:
            rec = temp[0]
            if saved_attr is not None:
                self.recorder = saved_attr
        return rec.valid_values()

    def predict(self, item: Any, rm_type_tfms: Any = None, with_input: bool = False) -> tuple[Any, ...]:
        """``(decoded_target, decoded_pred, probs)`` for one item, through ``dls.test_dl`` and ``decode_batch``."""
        for need in ("test_dl", "decode_batch"):
            if not hasattr(self.dls, need):
                raise TypeError(f"predict needs dls.{need} ({type(self.dls).__name__} has none): use DataLoaders "
                                f"built with torchloom's data API, or call get_preds(dl=...) directly")
        kw = {} if rm_type_tfms is None else {"rm_type_tfms": rm_type_tfms}
        dl = self.dls.test_dl([item], num_workers=0, **kw)
        inp, preds, _, dec_preds = self.get_preds(dl=dl, with_input=True, with_decoded=True)
        n_inp = getattr(self.dls, "n_inp", 1) or 1
        inp_t = (inp,) if n_inp == 1 else tuple(inp)
        dec_t = dec_preds if isinstance(dec_preds, tuple) else (dec_preds,)
        dec_t = _retain_target_types(self.dls, n_inp, dec_t)
        dec = self.dls.decode_batch(inp_t + dec_t)[0]
        dec_inp, dec_targ = dec[:n_inp], dec[n_inp:]
        dec_inp = dec_inp[0] if len(dec_inp) == 1 else dec_inp
        dec_targ = dec_targ[0] if len(dec_targ) == 1 else dec_targ
        first = dec_preds[0] if not isinstance(dec_preds, tuple) else tuple(d[0] for d in dec_preds)
        probs = preds[0] if not isinstance(preds, tuple) else tuple(p[0] for p in preds)
        res = (dec_targ, first, probs)
        return (dec_inp, *res) if with_input else res

    def show_results(self, ds_idx: int = 1, dl: Any = None, max_n: int = 9, shuffle: bool = True,
                     **kwargs: Any) -> Any:
        """Show inputs, targets and predictions for one batch (drawing is done by the data's types)."""
        if dl is None:
            dl = self._dl_at(ds_idx)
            if hasattr(dl, "new"):
                dl = dl.new(shuffle=shuffle)
        if not hasattr(dl, "show_results"):
            raise TypeError(f"show_results needs a DataLoader with .show_results ({type(dl).__name__} has none)")
        b = dl.one_batch() if hasattr(dl, "one_batch") else next(iter(dl))
        _, _, preds = self.get_preds(dl=[b], with_decoded=True)
        return dl.show_results(b, preds, max_n=max_n, **kwargs)


def _retain_target_types(dls: Any, n_inp: int, preds: tuple[Any, ...]) -> tuple[Any, ...]:
    """Give decoded predictions the tensor types of the dataset's targets, so type-dispatched decodes
    (``Categorize``) turn them back into labels. Best effort: needs one labelled item."""
    ds = getattr(dls, "valid_ds", None)
    try:
        sample = ds[0] if ds is not None and len(ds) else None
    except Exception:
        return preds
    if not isinstance(sample, tuple) or len(sample) < n_inp + len(preds):
        return preds
    out = []
    for p, t in zip(preds, sample[n_inp:]):
        if isinstance(p, torch.Tensor) and isinstance(t, torch.Tensor) and type(p) is torch.Tensor \
                and type(t) is not torch.Tensor:
            p = p.as_subclass(type(t))
            p.__dict__.update(getattr(t, "__dict__", {}))
        out.append(p)
    return tuple(out)


def _inference_loader(dl: Any, reorder: bool) -> tuple[Any, Any]:
    """An unshuffled, complete version of ``dl`` and, when it yields items in a custom order, that order."""
    if getattr(dl, "shuffle", False) or getattr(dl, "drop_last", False):
        if not hasattr(dl, "new"):
            raise ValueError(f"cannot return predictions in dataset order from a shuffled {type(dl).__name__} "
                             f"without .new(shuffle=False); pass an unshuffled dl")
        dl = dl.new(shuffle=False, drop_last=False)
    order = None
    if reorder and hasattr(dl, "get_idxs"):
        idxs = list(dl.get_idxs())
        if idxs != sorted(idxs):
            try:
                dl = dl.new(get_idxs=lambda: idxs)
            except (TypeError, AttributeError) as e:
                raise ValueError(f"{type(dl).__name__} yields items in a custom order but cannot pin it with "
                                 f".new(get_idxs=...) ({e}); pass reorder=False") from e
            order = idxs
    return dl, order


def _reorder(r: Any, inv: torch.Tensor) -> Any:
    if r is None:
        return None
    if isinstance(r, (tuple, list)):
        return type(r)(_reorder(o, inv) for o in r)
    return r[inv]
