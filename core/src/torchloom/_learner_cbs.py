"""The Learner's callback bookkeeping: adding, removing and temporarily swapping callbacks, the per-event
dispatch tables, the callback error policy and the ordering report. Functions of a learner; its methods of the same names call them.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from torchloom._learner_guard import annotate
from torchloom.callbacks._base import (
    EVENTS,
    INNER_LOOP,
    Callback,
    cb_aliases,
    event_handler,
    order_edges,
    sort_callbacks,
)

if TYPE_CHECKING:
    from torchloom._learner import Learner


def add_cb(learn: Learner, cb: Callback | type[Callback]) -> Learner:
    """Add a callback (an instance or a class); ``learn.<cb.name>`` then points at it."""
    if isinstance(cb, type) and issubclass(cb, Callback):
        cb = cb()
    if not isinstance(cb, Callback):
        raise TypeError(f"add_cb expects a Callback instance or subclass, got {cb!r} ({type(cb).__name__}); "
                        f"wrap plain functions with Callback(before_batch=fn) or @callback('before_batch')")
    if cb.on_error not in ("raise", "warn"):
        raise ValueError(f"callback {cb.name!r}: on_error must be 'raise' or 'warn', got {cb.on_error!r}")
    if any(c is cb for c in learn._insertion):
        return learn
    other = cb.__dict__.get("learn")
    if other is not None and other is not learn:
        raise ValueError(f"callback {cb.name!r} ({type(cb).__name__}) is already attached to another Learner; "
                         f"create a new instance for this one")
    cb.learn = learn
    learn._insertion.append(cb)
    try:
        learn._rebuild()
    except Exception:
        learn._insertion.remove(cb)
        object.__setattr__(cb, "learn", None)
        learn._rebuild()
        raise
    set_cb_attr(learn, cb)
    return learn


def add_cbs(learn: Learner, cbs: Any) -> Learner:
    """Add several callbacks (None or a single one are accepted too)."""
    if cbs is None:
        return learn
    for cb in cbs if isinstance(cbs, (list, tuple)) else [cbs]:
        learn.add_cb(cb)
    return learn


def set_cb_attr(learn: Learner, cb: Callback) -> None:
    name = cb.name
    taken = hasattr(type(learn), name) or (name in learn.__dict__ and not isinstance(learn.__dict__[name], Callback))
    if not taken:
        setattr(learn, name, cb)
    else:
        warnings.warn(f"callback {type(cb).__name__} is named {name!r}, which is already a Learner attribute; "
                      f"it is not reachable as learn.{name}", RuntimeWarning, stacklevel=3)


def match(learn: Learner, cb: Any) -> list[Callback]:
    if isinstance(cb, Callback):
        return [c for c in learn._insertion if c is cb]
    if isinstance(cb, type):
        return [c for c in learn._insertion if isinstance(c, cb)]
    if isinstance(cb, str):
        return [c for c in learn._insertion if cb in cb_aliases(c)]
    raise TypeError(f"remove_cb expects a Callback, a Callback class or a name, got {cb!r}")


def remove_cb(learn: Learner, cb: Any) -> Learner:
    """Remove a callback: an instance, every instance of a class, or by name."""
    for c in match(learn, cb):
        learn._insertion.remove(c)
        if learn.__dict__.get(c.name) is c:
            delattr(learn, c.name)
            for rest in learn._insertion:  # another callback with that name takes the attribute
                if rest.name == c.name:
                    setattr(learn, c.name, rest)
        for reg in (learn._used, learn._defaults):
            for n in [n for n, u in reg.items() if u.cb is c]:
                del reg[n]
        learn._disabled.discard(id(c))
        object.__setattr__(c, "learn", None)
    learn._rebuild()
    return learn


def remove_cbs(learn: Learner, cbs: Any) -> Learner:
    for cb in cbs if isinstance(cbs, (list, tuple)) else [cbs]:
        learn.remove_cb(cb)
    return learn


@contextlib.contextmanager
def added_cbs(learn: Learner, cbs: Any) -> Iterator[Learner]:
    """Callbacks present only inside the ``with`` block (``fit(cbs=...)`` uses this)."""
    new = [c() if isinstance(c, type) else c for c in (cbs if isinstance(cbs, (list, tuple)) else [cbs])
           ] if cbs is not None else []
    new = [c for c in new if not any(c is x for x in learn._insertion)]
    learn.add_cbs(new)
    try:
        yield learn
    finally:
        learn.remove_cbs(new)


@contextlib.contextmanager
def removed_cbs(learn: Learner, cbs: Any) -> Iterator[Learner]:
    """Callbacks taken out for the ``with`` block and put back afterwards (same position)."""
    targets = [c for x in (cbs if isinstance(cbs, (list, tuple)) else [cbs]) for c in match(learn, x)]
    saved = (list(learn._insertion), dict(learn._used), dict(learn._defaults))
    learn.remove_cbs(targets)
    try:
        yield learn
    finally:
        insertion, used, defaults = saved
        for c in targets:
            c.learn = learn
        now = learn._insertion
        learn._insertion = [c for c in insertion if any(c is t for t in targets) or any(c is x for x in now)]
        learn._insertion += [c for c in now if not any(c is x for x in learn._insertion)]
        learn._used.update({n: u for n, u in used.items() if any(u.cb is t for t in targets)})
        learn._defaults.update({n: u for n, u in defaults.items() if any(u.cb is t for t in targets)})
        learn._rebuild()
        for c in targets:
            set_cb_attr(learn, c)


def ordered_cbs(learn: Learner, event: str) -> list[Callback]:
    """The callbacks that handle ``event``, in the order they run (training phase)."""
    return [cb for cb, _ in learn._ev_train[event]]


def order_report(learn: Learner, event: str | None = None) -> str:
    """Text of :meth:`show_order`."""
    events = [event] if event is not None else [e for e in EVENTS if learn._ev_train.get(e)]
    if event is not None and event not in learn._ev_train:
        raise ValueError(f"unknown event {event!r}; events are: {', '.join(EVENTS)}")
    edges = order_edges(learn.cbs)
    why: dict[int, list[str]] = {i: [] for i in range(len(learn.cbs))}
    for i, js in edges.items():
        for j, reason in js.items():
            why[j].append(f"after {learn.cbs[i].name} ({reason})")
            why[i].append(f"before {learn.cbs[j].name} ({reason})")
    pos = {id(cb): i for i, cb in enumerate(learn.cbs)}
    lines = []
    for ev in events:
        lines.append(f"{ev}:" + ("  (reverse order, like exiting nested `with` blocks)" if ev == "cleanup_fit"
                                 else ""))
        handlers = learn._ev_train[ev]
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


def show_order(learn: Learner, event: str | None = None) -> None:
    """Print, per event, which callbacks run, in which order, and why (order value / constraint)."""
    print(order_report(learn, event))


def describe(learn: Learner, cb: Callback) -> str:
    """``'mixup' (MixUp, from torchloom-mixup 0.1.0)`` -- the distribution when a plugin provided it."""
    for reg in (learn._used, learn._defaults):
        for u in reg.values():
            if u.cb is cb:
                return f"{cb.name!r} ({type(cb).__name__}, from {u.entry.dist} {u.entry.version})"
    return f"{cb.name!r} ({type(cb).__name__})"


_STEP_EVENTS = ("before_backward", "after_cancel_backward", "after_backward",
                "before_step", "after_cancel_step", "after_step")


def rebuild(learn: Learner) -> None:
    """Sort the callbacks and precompute, per event, the bound methods that implement it (the dispatch tables)."""
    learn.cbs = sort_callbacks(learn._insertion)
    train: dict[str, Any] = {}
    valid: dict[str, Any] = {}
    for ev in EVENTS:
        handlers = []
        for cb in learn.cbs:
            if id(cb) in learn._disabled:
                continue
            meth = event_handler(cb, ev)
            if meth is not None:
                handlers.append((cb, meth))
        if ev in INNER_LOOP:
            train[ev] = tuple(h for h in handlers if h[0].run_train)
            valid[ev] = tuple(h for h in handlers if h[0].run_valid)
        else:
            train[ev] = valid[ev] = tuple(handlers)
    # updated in place: the loop holds a table for the length of a batch and must see a change made during it
    learn._ev_train.clear()
    learn._ev_train.update(train)
    learn._ev_valid.clear()
    learn._ev_valid.update(valid)
    _note_step_events(learn)


def _note_step_events(learn: Learner) -> None:
    # With no backward/step handlers (the default) the batch skips their dispatch: nothing would run.
    learn._plain_step = not any(learn._ev_train[e] for e in _STEP_EVENTS)


def cb_event_changed(learn: Learner, name: str) -> None:
    """Called by a callback when it (un)sets one event handler: refresh that event's table only."""
    if name not in learn._ev_train or not hasattr(learn, "cbs"):
        rebuild(learn)
        return
    handlers = tuple((cb, m) for cb in learn.cbs
                     if id(cb) not in learn._disabled and (m := event_handler(cb, name)) is not None)
    if name in INNER_LOOP:
        learn._ev_train[name] = tuple(h for h in handlers if h[0].run_train)
        learn._ev_valid[name] = tuple(h for h in handlers if h[0].run_valid)
    else:
        learn._ev_train[name] = learn._ev_valid[name] = handlers
    _note_step_events(learn)


def cbs_changed(learn: Learner) -> None:
    """Called by a callback when its ordering or run flags change."""
    rebuild(learn)


def cb_error(learn: Learner, cb: Callback, name: str, e: BaseException) -> bool:
    """Apply the callback's error policy; True means the error was swallowed."""
    if isinstance(e, Exception) and cb.on_error == "warn" and getattr(e, "_torchloom_where", None) is None:
        warnings.warn(
            f"callback {learn._describe(cb)} failed in {name}: {type(e).__name__}: {e}. "
            f"It is disabled for the rest of this fit (on_error='warn').", RuntimeWarning, stacklevel=3)
        learn._disabled.add(id(cb))
        rebuild(learn)
        return True
    annotate(e, f"in callback {learn._describe(cb)} during event {name!r}")
    return False
