"""``LoggerCallback``: the shared base of experiment loggers (CSV, TensorBoard, Weights & Biases, ...).

A logger never syncs with the device per batch: it reads what the Recorder already turned into
floats at the end of each epoch (the epoch row, and the smoothed loss and learning rate of every
batch) and hands them to four small methods a subclass implements -- ``start``, ``log_batches``,
``log_epoch`` and ``finish``. ``lr_find`` runs and inference (``get_preds``, ``validate``) are not
logged; ``learn.no_logging()`` silences the printed table only, loggers still record.
"""
from __future__ import annotations

from typing import Any

from torchloom.callbacks._base import Callback

__all__ = ["LoggerCallback"]


def _name(o: Any) -> str:
    o = getattr(o, "func", o)  # functools.partial
    return getattr(o, "__name__", None) or type(o).__name__


class LoggerCallback(Callback):
    """Subclass and implement ``start(hparams)``, ``log_batches(rows)``, ``log_epoch(step, values)`` and
    ``finish()``; each is called only for real training fits.

    ``rows`` are ``(step, {"train_loss_smooth": float, "lr": float})`` per training batch, ``step`` the
    global batch count (it continues across resumed fits); ``values`` is the epoch row by column name
    (``epoch``, ``train_loss``, ``valid_loss``, the metrics, without ``time``).
    """

    order = 55  # after the Recorder (50), which makes the epoch's floats
    on_error = "warn"  # an observer: a logging failure must not kill a training run

    def __init__(self) -> None:
        super().__init__()
        self.active = False
        self._seen = 0

    # -- what subclasses implement --------------------------------------------------------------
    def start(self, hparams: dict[str, Any]) -> None:
        """A fit begins; ``hparams`` describes it (see :meth:`hyperparameters`)."""

    def log_batches(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        """Per-batch values of the epoch that just ended."""

    def log_epoch(self, step: int, values: dict[str, Any]) -> None:
        """The epoch row (``step``: global batch count at the end of the epoch)."""

    def finish(self) -> None:
        """The fit ended (normally or not): flush and close."""

    # -- helpers --------------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """What a run is usually compared by: lr, batch size, epochs, optimizer, loss, model, plugins."""
        learn = self.learn
        hp: dict[str, Any] = {"n_epoch": learn.n_epoch, "start_epoch": learn.start_epoch}
        opt = learn.opt
        hypers = getattr(opt, "hypers", None)
        if hypers:
            for k, v in hypers[-1].items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    hp[k] = float(v)
        bs = getattr(getattr(learn.dls, "train", None), "bs", None)
        if bs is not None:
            hp["bs"] = bs
        hp["opt_func"] = learn.opt_func if isinstance(learn.opt_func, str) else _name(learn.opt_func)
        hp["loss_func"] = _name(learn.loss_func)
        hp["model"] = type(learn.model).__name__
        params = getattr(learn.model, "parameters", None)
        if params is not None:
            hp["n_params"] = sum(p.numel() for p in params())
        hp["metrics"] = ",".join(m.name for m in learn.metrics)
        hp["plugins"] = ",".join(sorted(learn.plugins_used))
        return hp

    def _probing(self) -> bool:
        """An LR range test is running (its epochs are not a training run)."""
        from torchloom.callbacks._schedule import LRFinder

        return any(isinstance(cb, LRFinder) for cb in self.learn.cbs)

    # -- events ---------------------------------------------------------------------------------
    def before_fit(self) -> None:
        learn = self.learn
        self.active = not learn.is_inference and not self._probing() and hasattr(learn, "recorder")
        if not self.active:
            return
        self._seen = 0
        self._step0 = learn.train_iter
        self.start(self.hyperparameters())

    def after_epoch(self) -> None:
        if not self.active:
            return
        rec = self.learn.recorder
        losses, lrs = rec.losses, rec.lrs  # floats already (the Recorder flushed them this epoch)
        new = range(self._seen, min(len(losses), len(lrs)))
        if len(new):
            self.log_batches([(self._step0 + i + 1, {"train_loss_smooth": losses[i], "lr": float(lrs[i])})
                              for i in new])
        self._seen = new.stop if len(new) else self._seen
        values = {n: v for n, v in zip(rec.metric_names, rec.log) if n != "time"}
        values = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch"
                      else v) for k, v in values.items()}
        self.log_epoch(self.learn.train_iter, values)

    def after_fit(self) -> None:
        self._end()

    def cleanup_fit(self) -> None:
        self._end()

    def _end(self) -> None:
        if self.active:
            self.active = False
            self.finish()

