"""Quiet modes of a Learner: ``with learn.no_logging():`` / ``with learn.no_bar():``."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from torchloom._learner_cbs import removed_cbs
from torchloom.callbacks._base import noop

if TYPE_CHECKING:
    from torchloom._learner import Learner


@contextlib.contextmanager
def no_logging(learn: Learner) -> Iterator[Learner]:
    """No epoch table / log lines inside the block."""
    old, learn.logger = learn.logger, noop
    try:
        yield learn
    finally:
        learn.logger = old


@contextlib.contextmanager
def no_bar(learn: Learner) -> Iterator[Learner]:
    """No progress bar inside the block."""
    with removed_cbs(learn, "progress"):
        yield learn
