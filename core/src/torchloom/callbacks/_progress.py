"""Progress bars and the epoch table, for a terminal, a notebook or a log file.

tqdm is imported only when a fit starts. When stdout is not a terminal (a log file, CI) no bar is
drawn: one plain line per epoch is printed instead, so logs are not flooded with redraws. In a
Jupyter notebook the bar and the epoch table are HTML (``IPython.display``; ipywidgets not needed);
if IPython's display is unavailable the log-mode text is printed instead.
"""
from __future__ import annotations

import sys
from typing import Any

from torchloom.callbacks._base import Callback, noop

__all__ = ["ProgressCallback", "display_mode"]


def display_mode(stream: Any = None) -> str:
    """"notebook" inside a Jupyter kernel, "terminal" when ``stream`` is a TTY, else "log"."""
    from torchloom._plotting import in_notebook

    if in_notebook():
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
    each epoch's row is printed (and flushed) as one line. ``mininterval``: seconds between redraws.
    """

    order = 60
    on_error = "warn"  # an observer: a display problem must not kill a training run

    def __init__(self, mode: str | None = None, stream: Any = None, mininterval: float = 0.2) -> None:
        super().__init__()
        if mode not in (None, "terminal", "notebook", "log"):
            raise ValueError(f"ProgressCallback(mode=...) must be None, 'terminal', 'notebook' or 'log', got {mode!r}")
        self.mode, self.stream, self.mininterval = mode, stream, mininterval
        self.bar: Any = None
        self.board: Any = None  # the notebook's HTML bar and table
        self._old_logger: Any = None
        self._header_done = False

    def _out(self) -> Any:
        return sys.stdout if self.stream is None else self.stream

    def before_fit(self) -> None:
        learn = self.learn
        self._mode = self.mode or display_mode(self._out())
        self._header_done = False
        self._widths: list[int] = []
        self.board = None
        if learn.is_inference:
            return
        if self._mode == "notebook":
            try:
                from torchloom.callbacks._notebook import NotebookBoard

                self.board = NotebookBoard(min_interval=self.mininterval)
            except ImportError:  # no IPython display: plain text lines, no warning
                self._mode = "log"
        if learn.logger is not noop:
            self._old_logger, learn.logger = learn.logger, self._write_row

    def _total(self) -> int | None:
        # learn.dl is the loader of the phase starting now (learn.n_iter is set only once it iterates)
        try:
            return len(self.learn.dl) or None
        except TypeError:
            return None

    def _new_bar(self, desc: str) -> None:
        if self._mode == "log" or self.learn.is_inference:
            return
        total = self._total()
        if self.board is not None:
            self.board.start_bar(total, desc)
            return
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, leave=False, file=self._out(), dynamic_ncols=True,
                        mininterval=self.mininterval)

    def before_train(self) -> None:
        self._new_bar(f"epoch {self.learn.epoch + 1}/{self.learn.n_epoch} train")

    def before_validate(self) -> None:
        self._new_bar("valid")

    def after_batch(self) -> None:
        board = self.board
        if board is not None:
            if board.step():
                loss = self.learn.smooth_loss if self.learn.training else None
                board.redraw(f"loss {float(loss):.4f}" if loss is not None else "")
            return
        bar = self.bar
        # tqdm redraws at most every `mininterval`; only then read the loss (a host sync), never per batch
        if bar is not None and bar.update(1) and self.learn.training and self.learn.smooth_loss is not None:
            bar.set_postfix_str(f"loss {float(self.learn.smooth_loss):.4f}", refresh=False)

    def _close_bar(self) -> None:
        if self.board is not None:
            self.board.end_bar()
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
        if self.board is not None:
            self.board.add_row(names, cells)
            return
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
