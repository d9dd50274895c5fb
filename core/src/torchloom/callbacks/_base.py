"""Callbacks: the only way the Learner's loop is extended.

The loop fires events (fastai's names, plus ``cleanup_fit``); a callback implements methods named
after the events it cares about. Callbacks are two-way: reads of unknown attributes fall back to the
learner, and writes to the loop-state names (``xb``, ``yb``, ``pred``, ``loss``, ...) go to the
learner, so ``self.loss_func = f`` inside a callback does what it says (fastai's foot-gun fixed).
"""
from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "EVENTS",
    "INNER_LOOP",
    "LOOP_STATE",
    "Callback",
    "CancelBackwardException",
    "CancelBatchException",
    "CancelEpochException",
    "CancelException",
    "CancelFitException",
    "CancelStepException",
    "CancelTrainException",
    "CancelValidException",
    "CancelValidateException",
    "FuncCallback",
    "callback",
    "class2attr",
    "event",
]

EVENTS: tuple[str, ...] = (
    "after_create", "before_fit", "before_epoch", "before_train", "before_batch", "after_pred",
    "after_loss", "before_backward", "after_cancel_backward", "after_backward", "before_step",
    "after_cancel_step", "after_step", "after_cancel_batch", "after_batch", "after_cancel_train",
    "after_train", "before_validate", "after_cancel_validate", "after_validate", "after_cancel_epoch",
    "after_epoch", "after_cancel_fit", "after_fit", "cleanup_fit",
)
"""Every event the Learner fires, in nesting order; ``cleanup_fit`` is torchloom's guaranteed last one."""

INNER_LOOP: frozenset[str] = frozenset({
    "before_batch", "after_pred", "after_loss", "before_backward", "after_cancel_backward",
    "after_backward", "before_step", "after_cancel_step", "after_step", "after_cancel_batch",
    "after_batch",
})
"""Events that respect ``run_train`` / ``run_valid`` (as in fastai)."""

LOOP_STATE: frozenset[str] = frozenset({"xb", "yb", "pred", "loss", "loss_grad", "loss_func", "opt", "model"})
"""Names a callback writes straight through to its learner."""


class event:
    """Namespace holding the event names: ``event.before_fit == "before_fit"``."""


for _e in EVENTS:
    setattr(event, _e, _e)


class CancelException(Exception):
    """Base of the exceptions a callback raises to skip part of the loop (never an error)."""


class CancelBatchException(CancelException):
    """Skip the rest of this batch (backward, step, zero_grad); goes to ``after_cancel_batch``."""


class CancelBackwardException(CancelException):
    """Skip the backward pass; goes to ``after_cancel_backward``."""


class CancelStepException(CancelException):
    """Skip the optimizer step (zero_grad still runs); goes to ``after_cancel_step``."""


class CancelTrainException(CancelException):
    """Skip the rest of the training phase of this epoch; goes to ``after_cancel_train``."""


class CancelValidException(CancelException):
    """Skip the validation phase of this epoch; goes to ``after_cancel_validate``."""


CancelValidateException = CancelValidException  # the spelling that matches the event names


class CancelEpochException(CancelException):
    """Skip the rest of this epoch; goes to ``after_cancel_epoch``."""


class CancelFitException(CancelException):
    """Stop training; goes to ``after_cancel_fit`` then ``after_fit`` (after_train/after_epoch skipped)."""


_CAMEL1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL2 = re.compile(r"([a-z0-9])([A-Z])")


def noop(*args: Any, **kwargs: Any) -> None:
    """The logger of a quiet Learner (``no_logging``); the progress bar leaves such a logger alone."""
    return None


def class2attr(obj_or_cls: Any, suffix: str = "Callback") -> str:
    """fastai's naming: ``RNNCallback`` -> ``rnn``, ``GANTrainer`` -> ``gan_trainer``."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    name = cls.__name__
    if name.endswith(suffix) and name != suffix:
        name = name[: -len(suffix)]
    return _CAMEL2.sub(r"\1_\2", _CAMEL1.sub(r"\1_\2", name)).lower()


_ON_ERROR = ("raise", "warn")


class Callback:
    """Base class of everything that extends the training loop.

    Class attributes a subclass may set: ``order`` (number, lower runs first), ``before`` / ``after``
    (names of callbacks this one must run before / after, unknown names ignored), ``run_train`` /
    ``run_valid`` (inner-loop events only), ``on_error`` ("raise", or "warn": warn once, disable
    itself for the rest of the fit, training continues -- for observers such as loggers).
    Event handlers may also be given as keyword arguments: ``Callback(before_batch=fn)``, where
    ``fn`` receives the callback.
    """

    order: float = 0
    before: Iterable[str] = ()
    after: Iterable[str] = ()
    run_train: bool = True
    run_valid: bool = True
    run: bool = True
    on_error: str = "raise"
    learn: Any = None

    def __init__(self, **handlers: Callable[..., Any]) -> None:
        for ev, fn in handlers.items():
            if ev not in EVENTS:
                raise TypeError(
                    f"{type(self).__name__}() got an unexpected keyword argument {ev!r}: only event handlers "
                    f"({', '.join(EVENTS)}) may be passed as keywords"
                )
            if not callable(fn):
                raise TypeError(f"{type(self).__name__}({ev}=...) must be callable, got {type(fn).__name__}")
            object.__setattr__(self, ev, types.MethodType(fn, self))

    # -- attribute access -----------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: fall back to the learner for loop state and the rest.
        if name.startswith("__") or name in _EVENT_SET:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        learn = self.__dict__.get("learn", type(self).learn)
        if learn is None:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r} (and it is not attached to a Learner)"
            )
        return getattr(learn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in LOOP_STATE:
            learn = self.__dict__.get("learn")
            if learn is not None:
                setattr(learn, name, value)
                return
        object.__setattr__(self, name, value)
        if name in _STRUCTURAL:
            learn = self.__dict__.get("learn")
            if learn is not None:
                learn._cbs_changed()
        elif name in _EVENT_SET:
            learn = self.__dict__.get("learn")
            if learn is not None:
                changed = getattr(learn, "_cb_event_changed", None)
                changed(name) if changed is not None else learn._cbs_changed()

    @property
    def name(self) -> str:
        """snake_case class name minus "Callback"; ``learn.<name>`` points at the callback."""
        return self.__dict__.get("_name") or class2attr(self)

    @name.setter
    def name(self, value: str) -> None:
        object.__setattr__(self, "_name", value)

    # -- hooks ----------------------------------------------------------------------------------
    def remove_after_fit(self, handle: Any) -> Any:
        """Remember a handle with ``.remove()`` (e.g. ``module.register_forward_hook(...)``); the Learner
        removes it when the fit ends, normally or by an exception. Returns the handle."""
        if not callable(getattr(handle, "remove", None)):
            raise TypeError(f"remove_after_fit expects a handle with .remove(), got {type(handle).__name__}")
        self.__dict__.setdefault("_fit_handles", []).append(handle)
        return handle

    def _remove_fit_handles(self) -> None:
        handles = self.__dict__.pop("_fit_handles", [])
        for h in reversed(handles):
            h.remove()

    # -- checkpoint state -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must save to resume this callback (tensors or JSON-able values)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    # -- fastai compatibility ---------------------------------------------------------------------
    def __call__(self, event_name: str) -> Any:
        """Run one event on this callback alone (the Learner uses precomputed lists instead)."""
        if not self.run:
            return None
        if event_name in INNER_LOOP and self.learn is not None:
            if not (self.run_train if self.learn.training else self.run_valid):
                return None
        fn = getattr(self, event_name, None) if event_name in _EVENT_SET else None
        return fn() if fn is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(order={self.order})"


_EVENT_SET = frozenset(EVENTS)
_STRUCTURAL = frozenset({"order", "before", "after", "run_train", "run_valid", "on_error"})


def event_handler(cb: Callback, name: str) -> Any:
    """``getattr(cb, name, None)`` for an event name, without the AttributeError that a callback not handling
    the event raises through ``Callback.__getattr__`` (microseconds each; the Learner asks about every event)."""
    if name in cb.__dict__:
        return getattr(cb, name, None)
    for k in type(cb).__mro__:
        d = k.__dict__
        if name in d or ("__getattr__" in d and k is not Callback):  # defined, or a subclass computes attributes
            return getattr(cb, name, None)
    return None


class FuncCallback(Callback):
    """A callback made of plain functions: ``FuncCallback(before_batch=fn, name="scale")``."""

    def __init__(self, name: str | None = None, order: float | None = None, before: Iterable[str] = (),
                 after: Iterable[str] = (), run_train: bool = True, run_valid: bool = True,
                 on_error: str = "raise", **handlers: Callable[..., Any]) -> None:
        if not handlers:
            raise TypeError("FuncCallback needs at least one event handler, e.g. FuncCallback(before_batch=fn)")
        super().__init__(**handlers)
        if name is None:
            fn = next(iter(handlers.values()))
            name = getattr(fn, "__name__", "func")
            name = "func" if name == "<lambda>" else name
        self.name = name
        if order is not None:
            self.order = order
        self.before, self.after = tuple(before), tuple(after)
        self.run_train, self.run_valid = run_train, run_valid
        if on_error not in _ON_ERROR:
            raise ValueError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")
        self.on_error = on_error

    def __repr__(self) -> str:
        evs = [e for e in EVENTS if e in self.__dict__]
        return f"FuncCallback({self.name!r}, events={evs}, order={self.order})"


def callback(event_name: str, **options: Any) -> Callable[[Callable[..., Any]], FuncCallback]:
    """Decorator turning a function into a callback for one event.

    >>> @callback("before_batch", order=5)
    ... def scale_inputs(cb): cb.xb = (cb.xb[0] * 2,)
    """
    if event_name not in _EVENT_SET:
        raise ValueError(f"unknown event {event_name!r}; events are: {', '.join(EVENTS)}")

    def deco(fn: Callable[..., Any]) -> FuncCallback:
        return FuncCallback(**{"name": getattr(fn, "__name__", None), **options, event_name: fn})

    return deco


# -- ordering -------------------------------------------------------------------------------------

def cb_aliases(cb: Callback) -> set[str]:
    """Names other callbacks may use in ``before`` / ``after`` to point at ``cb``."""
    names = {cb.name, type(cb).__name__, class2attr(cb)}
    reg_name = cb.__dict__.get("_registry_name")
    if reg_name:
        names.add(reg_name)
    return names


def _names(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def order_edges(cbs: list[Callback]) -> dict[int, dict[int, str]]:
    """``edges[i][j] = why`` when callback i must run before callback j (unknown names are ignored)."""
    alias_of: dict[str, list[int]] = {}
    for i, cb in enumerate(cbs):
        for a in cb_aliases(cb):
            alias_of.setdefault(a, []).append(i)
    edges: dict[int, dict[int, str]] = {i: {} for i in range(len(cbs))}
    for i, cb in enumerate(cbs):
        for target in _names(cb.before):
            for j in alias_of.get(target, ()):
                if j != i:
                    edges[i].setdefault(j, f"{cbs[i].name} declares before={target!r}")
        for target in _names(cb.after):
            for j in alias_of.get(target, ()):
                if j != i:
                    edges[j].setdefault(i, f"{cbs[i].name} declares after={target!r}")
    return edges


class CallbackOrderError(ValueError):
    """The ``before`` / ``after`` constraints of the callbacks form a cycle."""


def sort_callbacks(cbs: list[Callback]) -> list[Callback]:
    """Numeric ``order`` first, then ``before``/``after`` constraints (they win over ``order``).

    Kahn's algorithm; among the callbacks free to run next the one with the lowest
    (order, insertion index, name) goes first, so the result is stable and deterministic.
    """
    import heapq

    edges = order_edges(cbs)
    indeg = [0] * len(cbs)
    for i in edges:
        for j in edges[i]:
            indeg[j] += 1
    heap = [(cbs[i].order, i, cbs[i].name) for i in range(len(cbs)) if indeg[i] == 0]
    heapq.heapify(heap)
    out: list[Callback] = []
    while heap:
        _, i, _ = heapq.heappop(heap)
        out.append(cbs[i])
        for j in edges[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(heap, (cbs[j].order, j, cbs[j].name))
    if len(out) < len(cbs):
        raise CallbackOrderError("callback ordering constraints form a cycle: " + _find_cycle(cbs, edges, indeg))
    return out


def _find_cycle(cbs: list[Callback], edges: dict[int, dict[int, str]], indeg: list[int]) -> str:
    left = {i for i in range(len(cbs)) if indeg[i] > 0}
    start = min(left)
    path, seen = [start], {start: 0}
    while True:
        nxt = min(j for j in edges[path[-1]] if j in left)
        if nxt in seen:
            cyc = path[seen[nxt]:] + [nxt]
            hops = [f"{cbs[a].name} -> {cbs[b].name} ({edges[a][b]})" for a, b in zip(cyc, cyc[1:])]
            return " -> ".join(cbs[i].name for i in cyc) + "; because " + "; ".join(hops)
        seen[nxt] = len(path)
        path.append(nxt)
