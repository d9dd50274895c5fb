"""Checkpoint callback: save everything needed to resume a run exactly, after every ``every`` epochs."""
from __future__ import annotations

from typing import Any

from torchloom.callbacks._base import Callback

__all__ = ["Checkpoint"]


class Checkpoint(Callback):
    """Write ``path/model_dir/fname.safetensors`` after each ``every``-th epoch (and the last one).

    Resume with ``learn.fit(..., resume=fname)`` (or ``fit_one_cycle(..., resume=fname)``) using the
    same arguments: training continues at the next epoch and ends with the same weights as an
    uninterrupted run. Runs after the trackers (order 70) so their updated state is saved.
    """

    order = 70

    def __init__(self, every: int = 1, fname: str = "checkpoint"):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"Checkpoint(every={every}): every must be >= 1")
        self.every, self.fname = int(every), fname
        self.last_path: Any = None
        self.last_epoch: int | None = None

    def after_epoch(self) -> None:
        epoch = self.learn.epoch
        if (epoch + 1) % self.every == 0 or epoch == self.learn.n_epoch - 1:
            self.last_path = self.learn.save_checkpoint(self.fname, epoch=epoch)
            self.last_epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = state.get("last_epoch")
