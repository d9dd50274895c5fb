"""What a fit guarantees when an exception escapes it: a note saying where it was raised, and the
Learner's state (loss, model and its train/eval modes, optimizer, logger) given back as it was.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

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
