"""``learn.use("tensorboard")``: losses, metrics, learning rate and hyper-parameters in TensorBoard.

Written with ``torch.utils.tensorboard.SummaryWriter``, which needs the ``tensorboard`` package
(``pip install 'torchloom[tensorboard]'``); a missing package is reported by ``learn.use``.
Per-batch scalars come from the Recorder's floats at the end of each epoch (no device sync per
batch). With ``log_preds=True`` a figure of predictions (``learn.show_results``) is added
at the end of the fit.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torchloom.callbacks._logger import LoggerCallback

__all__ = ["TensorBoardCallback"]

MISSING = ("the 'tensorboard' callback needs the tensorboard package, which is not installed: "
           "pip install 'torchloom[tensorboard]'")


def summary_writer(log_dir: str | os.PathLike | None) -> Any:
    """A ``SummaryWriter`` or an ImportError naming the extra to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch raises this when tensorboard itself is missing
        raise ImportError(MISSING) from e
    return SummaryWriter(log_dir=None if log_dir is None else str(log_dir))


class TensorBoardCallback(LoggerCallback):
    """Log to ``log_dir`` (default ``learn.path / "runs"``; one sub-folder per fit unless ``log_dir`` is
    given). Scalars: ``train/loss_smooth`` and ``train/lr`` per batch, ``epoch/<column>`` per epoch
    (steps are global batch counts); hyper-parameters as TensorBoard hparams with the final metrics."""

    def __init__(self, log_dir: str | os.PathLike | None = None, log_preds: bool = False, n_preds: int = 9) -> None:
        super().__init__()
        try:  # fail at learn.use("tensorboard"), not at the end of the first epoch
            import tensorboard  # noqa: F401
        except ImportError as e:
            raise ImportError(MISSING) from e
        self.log_dir, self.log_preds, self.n_preds = log_dir, log_preds, n_preds
        self.writer: Any = None
        self._hparams: dict[str, Any] = {}
        self._last: dict[str, float] = {}

    def start(self, hparams: dict[str, Any]) -> None:
        log_dir = self.log_dir
        if log_dir is None:
            import time

            log_dir = Path(self.learn.path) / "runs" / time.strftime("%Y%m%d-%H%M%S")
        self.writer = summary_writer(log_dir)
        self._hparams = {k: v for k, v in hparams.items() if isinstance(v, (int, float, str, bool))}
        self._last = {}

    def log_batches(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        for step, vals in rows:
            self.writer.add_scalar("train/loss_smooth", vals["train_loss_smooth"], step)
            self.writer.add_scalar("train/lr", vals["lr"], step)

    def log_epoch(self, step: int, values: dict[str, Any]) -> None:
        for k, v in values.items():
            if k != "epoch" and isinstance(v, float):
                self.writer.add_scalar(f"epoch/{k}", v, step)
                self._last[f"final/{k}"] = v
        self.writer.flush()

    def after_fit(self) -> None:
        if self.active and self.log_preds and self.writer is not None:  # only after a fit that finished
            fig = _preds_figure(self.learn, self.n_preds)
            if fig is not None:
                self.writer.add_figure("predictions", fig, self.learn.train_iter)
        super().after_fit()

    def finish(self) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        try:
            if self._hparams:
                writer.add_hparams(self._hparams, self._last or {"final/none": 0.0}, run_name=".")
        finally:
            writer.close()


def _preds_figure(learn: Any, n: int) -> Any:
    """A figure of ``learn.show_results`` (None when the data cannot show itself)."""
    try:
        fig = learn.show_results(max_n=n)
    except (TypeError, AttributeError, NotImplementedError):
        return None
    return getattr(fig, "figure", fig)
