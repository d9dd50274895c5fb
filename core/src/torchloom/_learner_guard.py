"""What a fit guarantees when it ends: ``cleanup_fit`` reaches every callback, and when an exception escapes,
a note saying where it was raised and the Learner's state (loss, model and its train/eval modes, optimizer,
logger) given back as it was.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from torchloom.callbacks._base import Callback, event_handler

if TYPE_CHECKING:
    from torchloom._learner import Learner


def annotate(e: BaseException, where: str) -> None:
    """Add one note saying where an exception happened (only the innermost place is recorded)."""
    if getattr(e, "_torchloom_where", None) is None:
        try:
            e._torchloom_where = where  # type: ignore[attr-defined]
        except AttributeError:  # some C exceptions refuse new attributes
            pass
        e.add_note(f"torchloom: raised {where}")


class Snapshot:
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


def fire_cleanup(learn: Learner, exc: BaseException | None) -> list[tuple[Callback, BaseException]]:
    """``cleanup_fit`` to every callback, last-run first; each call guarded so all of them run."""
    errors = []
    for cb in reversed(learn.cbs):
        fn = event_handler(cb, "cleanup_fit")
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


def end_cleanup(learn: Learner) -> None:
    """Drop the fit's references and give every callback back its run flag and hooks."""
    learn.dl, learn.xb, learn.yb, learn.pred, learn.loss, learn.loss_grad = None, (None,), (None,), None, None, None
    learn._first_param = None
    for cb in learn._insertion:
        if not cb.run:  # Callback.__setattr__ is Python code: only write when something changes
            cb.run = True
        if "_fit_handles" in cb.__dict__:
            cb._remove_fit_handles()
    if learn._disabled:
        learn._disabled.clear()
        learn._rebuild()
