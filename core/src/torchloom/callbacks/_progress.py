"""Progress bars and the epoch table, for a terminal, a notebook or a log file.

tqdm is imported only when a fit starts. When stdout is not a terminal (a log file, CI) no bar is
drawn: one plain line per epoch is printed instead, so logs are not flooded with redraws.
"""
from __future__ import annotations

import sys
from typing import Any

from torchloom.callbacks._base import Callback, noop

__all__ = ["ProgressCallback", "display_mode"]


def display_mode(stream: Any = None) -> str:
    """"notebook" inside a Jupyter kernel, "terminal" when ``stream`` is a TTY, else "log"."""
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        try:
            shell = ipython.get_ipython()
        except Exception:  # pragma: no cover - odd IPython builds
            shell = None
        if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
            return "notebook"
    stream = sys.stdout if stream is None else stream
    try:
        return "terminal" if stream.isatty() else "log"
    except (AttributeError, ValueError):
        return "log"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6f}"
    if v is None:
        return "None"
    return str(v)


class ProgressCallback(Callback):
    """A bar per training/validation phase and a table of epoch metrics.

    ``mode``: None (detect), "terminal", "notebook" or "log". In "log" mode there are no bars and
    each epoch's row is printed (and flushed) as one line.
    """

    order = 60
    on_error = "warn"  # an observer: a display problem must not kill a training run

    def __init__(self, mode: str | None = None, stream: Any = None) -> None:
        super().__init__()
        if mode not in (None, "terminal", "notebook", "log"):
            raise ValueError(f"ProgressCallback(mode=...) must be None, 'terminal', 'notebook' or 'log', got {mode!r}")
        self.mode, self.stream = mode, stream
        self.bar: Any = None
        self._old_logger: Any = None
        self._header_done = False

    def _out(self) -> Any:
        return sys.stdout if self.stream is None else self.stream

    def before_fit(self) -> None:
        learn = self.learn
        self._mode = self.mode or display_mode(self._out())
        self._header_done = False
        self._widths: list[int] = []
        if learn.is_inference:
            return
        if learn.logger is not noop:
            self._old_logger, learn.logger = learn.logger, self._write_row

    def _new_bar(self, desc: str) -> None:
        if self._mode == "log" or self.learn.is_inference:
            return
        if self._mode == "notebook":
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        total = self.learn.n_iter or None
        self.bar = tqdm(total=total, desc=desc, leave=False, file=self._out(), dynamic_ncols=True, mininterval=0.2)

    def before_train(self) -> None:
        self._new_bar(f"epoch {self.learn.epoch + 1}/{self.learn.n_epoch} train")

    def before_validate(self) -> None:
        self._new_bar("valid")

    def after_batch(self) -> None:
        bar = self.bar
        # tqdm redraws at most every `mininterval`; only then read the loss (a host sync), never per batch
        if bar is not None and bar.update(1) and self.learn.training and self.learn.smooth_loss is not None:
            bar.set_postfix_str(f"loss {float(self.learn.smooth_loss):.4f}", refresh=False)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def after_train(self) -> None:
        self._close_bar()

    def after_validate(self) -> None:
        self._close_bar()

    def _write_row(self, log: list[Any]) -> None:
        # Called by the Recorder (as learn.logger): a failure here is the display's, not the Recorder's.
        try:
            self._write_row_unguarded(log)
        except Exception as e:
            import warnings

            warnings.warn(f"callback 'progress' (ProgressCallback) could not write the epoch table: "
                          f"{type(e).__name__}: {e}; the table is switched off for this fit", RuntimeWarning,
                          stacklevel=2)
            self._restore()

    def _write_row_unguarded(self, log: list[Any]) -> None:
        names = list(getattr(getattr(self.learn, "recorder", None), "metric_names", []) or [])
        cells = [_fmt(v) for v in log]
        if not self._header_done and names:
            self._widths = [max(len(n), len(c)) for n, c in zip(names, cells)]
            self._emit("  ".join(n.ljust(w) for n, w in zip(names, self._widths)).rstrip())
            self._header_done = True
        widths = self._widths + [0] * (len(cells) - len(self._widths))
        self._emit("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())

    def _emit(self, line: str) -> None:
        out = self._out()
        if self._mode != "log":
            from tqdm import tqdm

            tqdm.write(line, file=out)
        else:
            out.write(line + "\n")
        out.flush()

    def _restore(self) -> None:
        self._close_bar()
        if self._old_logger is not None:
            self.learn.logger, self._old_logger = self._old_logger, None

    def after_fit(self) -> None:
        self._restore()

    def cleanup_fit(self) -> None:
        self._restore()
