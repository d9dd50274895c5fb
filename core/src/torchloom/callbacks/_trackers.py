"""Callbacks that track a recorded metric: save the best model, stop early, reduce the LR on plateau."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from torchloom.callbacks._base import Callback, CancelFitException

__all__ = ["EarlyStopping", "ReduceLROnPlateau", "SaveModel", "TrackerCallback"]


class TrackerCallback(Callback):
    """Follow ``monitor`` (a Recorder column such as ``"valid_loss"`` or a metric name) across epochs.

    ``comp`` defaults to ``np.less`` for losses/errors and ``np.greater`` otherwise; an improvement
    must beat the best by ``min_delta``. Sets ``self.best`` and ``self.new_best`` after each epoch.
    """

    order = 60

    def __init__(self, monitor: str = "valid_loss", comp: Callable | None = None, min_delta: float = 0.0,
                 reset_on_fit: bool = True):
        super().__init__()
        if comp is None:
            comp = np.less if ("loss" in monitor or "error" in monitor) else np.greater
        self.monitor, self.comp, self.reset_on_fit = monitor, comp, reset_on_fit
        self.min_delta = -abs(min_delta) if comp is np.less else abs(min_delta)
        self.best: float | None = None
        self.new_best = False
        self._restored = False

    def _worst(self) -> float:
        return math.inf if self.comp is np.less else -math.inf

    def before_fit(self) -> None:
        if self._restored:  # resumed from a checkpoint: keep the tracked best
            self._restored = False
        elif self.reset_on_fit or self.best is None:
            self.best = self._worst()
        rec = getattr(self.learn, "recorder", None)
        if rec is None:
            raise ValueError(f"{type(self).__name__} needs the Recorder callback to read {self.monitor!r}")
        names = list(rec.metric_names[1:])
        if self.monitor not in names:
            raise ValueError(f"{type(self).__name__}: monitor={self.monitor!r} is not recorded; "
                             f"available: {names}")
        self.idx = names.index(self.monitor)

    def after_epoch(self) -> None:
        val = self.learn.recorder.values[-1][self.idx]
        if val is not None and bool(self.comp(val - self.min_delta, self.best)):
            self.best, self.new_best = float(val), True
        else:
            self.new_best = False

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self._restored = True


class SaveModel(TrackerCallback):
    """Save the model when ``monitor`` improves (``fname``), or every epoch (``fname_{epoch}``);
    with ``at_end`` save once at the end, otherwise reload the best weights at the end."""

    order = 61

    def __init__(self, monitor: str = "valid_loss", comp: Callable | None = None, min_delta: float = 0.0,
                 fname: str = "model", every_epoch: bool | int = False, at_end: bool = False,
                 with_opt: bool = False, reset_on_fit: bool = True):
        super().__init__(monitor=monitor, comp=comp, min_delta=min_delta, reset_on_fit=reset_on_fit)
        if every_epoch and at_end:
            raise ValueError("SaveModel: every_epoch and at_end cannot both be set")
        self.fname, self.every_epoch, self.at_end, self.with_opt = fname, every_epoch, at_end, with_opt
        self.last_saved_path = None

    def _save(self, name: str) -> None:
        self.last_saved_path = self.learn.save(name, with_opt=self.with_opt)

    def after_epoch(self) -> None:
        if self.every_epoch:
            if (self.learn.epoch % int(self.every_epoch)) == 0:
                self._save(f"{self.fname}_{self.learn.epoch}")
        else:
            super().after_epoch()
            if self.new_best:
                self._save(self.fname)

    def after_fit(self) -> None:
        if self.at_end:
            self._save(self.fname)
        elif not self.every_epoch and self.last_saved_path is not None:
            self.learn.load(self.fname, with_opt=self.with_opt)


class _PatienceTracker(TrackerCallback):
    """A tracker that counts epochs without improvement in ``wait`` and calls ``_out_of_patience`` once
    ``wait`` reaches ``patience``; ``wait`` survives a checkpoint (``state_dict``) and a resumed fit."""

    def __init__(self, monitor: str, comp: Callable | None, min_delta: float, patience: int, reset_on_fit: bool):
        super().__init__(monitor=monitor, comp=comp, min_delta=min_delta, reset_on_fit=reset_on_fit)
        self.patience = patience
        self.wait = 0

    def before_fit(self) -> None:
        restored = self._restored
        super().before_fit()
        if not restored:
            self.wait = 0

    def after_epoch(self) -> None:
        super().after_epoch()
        if self.new_best:
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self._out_of_patience()

    def _out_of_patience(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.wait = int(state.get("wait", 0))


class EarlyStopping(_PatienceTracker):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs."""

    order = 63

    def __init__(self, monitor: str = "valid_loss", comp: Callable | None = None, min_delta: float = 0.0,
                 patience: int = 1, reset_on_fit: bool = True):
        super().__init__(monitor, comp, min_delta, patience, reset_on_fit)
        self.stopped_epoch: int | None = None

    def _out_of_patience(self) -> None:
        self.stopped_epoch = self.learn.epoch
        self.learn.logger(f"No improvement since epoch {self.learn.epoch - self.wait}: early stopping")
        raise CancelFitException()


class ReduceLROnPlateau(_PatienceTracker):
    """Divide the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs."""

    order = 62

    def __init__(self, monitor: str = "valid_loss", comp: Callable | None = None, min_delta: float = 0.0,
                 patience: int = 1, factor: float = 10.0, min_lr: float = 0.0, reset_on_fit: bool = True):
        if factor <= 1:
            raise ValueError(f"ReduceLROnPlateau(factor={factor}): factor must be > 1")
        super().__init__(monitor, comp, min_delta, patience, reset_on_fit)
        self.factor, self.min_lr = factor, min_lr

    def _out_of_patience(self) -> None:
        old = [h["lr"] for h in self.learn.opt.hypers]
        self.learn.opt.set_hyper("lr", [max(lr / self.factor, self.min_lr) for lr in old])
        self.wait = 0
        new = self.learn.opt.hypers[-1]["lr"]
        if new != old[-1]:
            self.learn.logger(f"Epoch {self.learn.epoch}: reducing lr to {new}")
