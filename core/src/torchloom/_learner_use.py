"""``learn.use(name)``: switching registered plugins (callbacks or optimizers) on and off by name, with the
conflict / slot / requirement checks. Functions of a learner; its methods of the same names call them.
"""
from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchloom._learner_cbs import set_cb_attr
from torchloom._plugins.errors import PluginError
from torchloom.callbacks._base import Callback, cb_aliases

if TYPE_CHECKING:
    from torchloom._learner import Learner

__all__ = ["PluginConflictError", "use", "unuse", "using"]


class PluginConflictError(PluginError, ValueError):
    """``learn.use`` refused a plugin: a conflict, a taken slot or a missing requirement."""


@dataclass
class Used:
    """A callback switched on by ``learn.use`` and the registry entry it came from."""

    entry: Any
    cb: Callback
    kwargs: dict[str, Any]


def instantiate(learn: Learner, entry: Any, kwargs: dict[str, Any]) -> Callback:
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


def add_defaults(learn: Learner, progress: bool) -> None:
    from torchloom._plugins.manager import get_registry

    for entry in get_registry().defaults("callback"):
        if entry.name == "progress" and not progress:
            continue
        cb = instantiate(learn, entry, {})
        learn.add_cb(cb)
        learn._defaults[entry.name] = Used(entry, cb, {})
    from torchloom._distributed.env import auto_ddp

    if auto_ddp():  # started by torchrun: data-parallel unless TORCHLOOM_DDP=0
        learn.use("ddp")


def active_entries(learn: Learner) -> dict[str, Any]:
    return {**{n: u.entry for n, u in learn._defaults.items()}, **{n: u.entry for n, u in learn._used.items()}}


def check_compat(learn: Learner, entry: Any) -> None:
    me = f"{entry.name!r} ({entry.dist} {entry.version})"
    active = active_entries(learn)
    for name, other in active.items():
        them = f"{name!r} ({other.dist} {other.version})"
        if name in entry.conflicts or entry.name in other.conflicts:
            raise PluginConflictError(f"cannot use {me}: it conflicts with {them}, which is active on this "
                                      f"Learner; call learn.unuse({name!r}) first")
        if entry.slot is not None and entry.slot == other.slot:
            raise PluginConflictError(f"cannot use {me}: the exclusive slot {entry.slot!r} is taken by {them}; "
                                      f"call learn.unuse({name!r}) first")
    present = set(active) | {a for cb in learn._insertion for a in cb_aliases(cb)}
    missing = [r for r in entry.requires if r not in present]
    if missing:
        raise PluginConflictError(f"cannot use {me}: it requires {', '.join(map(repr, missing))}, which "
                                  f"{'is' if len(missing) == 1 else 'are'} not active; call "
                                  + " and ".join(f"learn.use({m!r})" for m in missing) + " first")


def use_specs(learn: Learner, specs: Iterable[Any] | None) -> None:
    """Apply ``Learner(use=[...])``: each spec is a name or a ``(name, kwargs)`` pair."""
    for spec in specs or ():
        name, kwargs = (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))
        use(learn, name, **kwargs)


def use(learn: Learner, name: str, /, **kwargs: Any) -> Learner:
    """Switch on a registered callback (or optimizer) by name; returns the learner (chainable).

    Using an active name again with keyword arguments replaces its instance in place (same
    position); without arguments it is a no-op.
    """
    from torchloom._plugins.manager import get_registry

    if not isinstance(name, str):
        raise TypeError(f"learn.use expects a registered name (str), got {name!r}; use add_cb for instances")
    reg = get_registry()
    entry = reg.get("callback", name)
    if entry is None:
        optimizer = reg.get("optimizer", name)
        if optimizer is not None:
            previous = learn._used_opt[2] if learn._used_opt else learn.opt_func
            learn.opt_func = functools.partial(optimizer.load(), **kwargs) if kwargs else name
            learn.opt = None
            learn._used_opt = (name, optimizer, previous)
            return learn
        reg.entry("callback", name)  # raises UnknownNameError with the helpful message
    book = learn._defaults if name in learn._defaults else learn._used
    used = book.get(name)
    if used is None:  # the same callback class added by hand counts as this name
        target = entry.load()
        same = [c for c in learn._insertion if isinstance(target, type) and type(c) is target]
        if same:
            used = learn._used[name] = Used(entry, same[0], {})
    if used is not None:
        if kwargs:
            new = instantiate(learn, entry, kwargs)
            replace_cb(learn, used.cb, new)
            book[name] = Used(entry, new, kwargs)
        return learn
    check_compat(learn, entry)
    cb = instantiate(learn, entry, kwargs)
    learn._used[name] = Used(entry, cb, kwargs)
    try:
        learn.add_cb(cb)
    except BaseException:
        learn._used.pop(name, None)
        raise
    return learn


def replace_cb(learn: Learner, old: Callback, new: Callback) -> None:
    new.learn = learn
    learn._insertion = [new if c is old else c for c in learn._insertion]
    object.__setattr__(old, "learn", None)
    learn._disabled.discard(id(old))
    learn._rebuild()
    set_cb_attr(learn, new)


def unuse(learn: Learner, name: str) -> Learner:
    """Switch off what ``use(name)`` switched on (or a default callback, e.g. ``"progress"``)."""
    if learn._used_opt is not None and learn._used_opt[0] == name:
        learn.opt_func, learn.opt, learn._used_opt = learn._used_opt[2], None, None
        return learn
    used = learn._used.get(name) or learn._defaults.get(name)
    if used is None:
        active = sorted(learn._used) + ([learn._used_opt[0]] if learn._used_opt else [])
        raise KeyError(f"{name!r} is not in use on this Learner; in use: {', '.join(active) or '(nothing)'}")
    learn.remove_cb(used.cb)
    return learn


@contextlib.contextmanager
def using(learn: Learner, *names: Any, **kwargs: Any) -> Iterator[Learner]:
    """``with learn.using("mixup", alpha=.4):`` -- plugins active only inside the block.

    Names may be strings or ``(name, kwargs)`` pairs; keyword arguments go to a single name.
    """
    specs = [(n, {}) if isinstance(n, str) else (n[0], dict(n[1])) for n in names]
    if kwargs:
        if len(specs) != 1:
            raise TypeError("using(name, **kwargs) takes keyword arguments only with a single name; "
                            "pass (name, kwargs) pairs for several")
        specs[0][1].update(kwargs)
    prior = {n: learn._used.get(n) for n, _ in specs}
    prior_opt = (learn.opt_func, learn.opt, learn._used_opt)
    try:
        for n, kw in specs:
            learn.use(n, **kw)
        yield learn
    finally:
        for n, _ in reversed(specs):
            before, now = prior[n], learn._used.get(n)
            if before is None and now is not None:
                learn.unuse(n)
            elif before is not None and now is not None and now.cb is not before.cb:
                replace_cb(learn, now.cb, before.cb)
                learn._used[n] = before
        learn.opt_func, learn.opt, learn._used_opt = prior_opt


def plugins_used(learn: Learner) -> dict[str, dict[str, str]]:
    """name -> {"dist", "version", "kind"} for everything switched on with ``use`` (saved in checkpoints).

    Entries registered with ``same_results=True`` (``ddp``, ``compile``) change how a run executes, not
    what it computes, and are left out, so their checkpoints resume with or without them."""
    out = {n: {"dist": u.entry.dist, "version": u.entry.version, "kind": u.entry.kind}
           for n, u in learn._used.items() if not u.entry.extra.get("same_results")}
    if learn._used_opt is not None:
        n, e, _ = learn._used_opt
        out[n] = {"dist": e.dist, "version": e.version, "kind": e.kind}
    return out
