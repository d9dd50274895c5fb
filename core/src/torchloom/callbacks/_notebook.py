"""HTML progress bar and epoch table for Jupyter, drawn with ``IPython.display`` (no ipywidgets needed).

One display area holds the bar (rewritten in place, at most every ``min_interval`` seconds) and
another the epoch table, which grows by one row per epoch -- what a fastai user sees in a notebook.
The HTML builders are plain functions so the rendered text can be tested without a notebook.
"""
from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["NotebookBoard", "html_progress", "html_table"]


def _clock(t: float) -> str:
    t = int(t)
    h, m, s = t // 3600, (t // 60) % 60, t % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def html_progress(value: int, total: int | None, desc: str = "", comment: str = "", elapsed: float = 0.0) -> str:
    """A ``<progress>`` bar with ``value/total``, elapsed and remaining time, like fastai's notebook bar."""
    if total:
        pct = 100.0 * value / total
        remain = elapsed / value * (total - value) if value else 0.0
        text = f"{pct:.2f}% [{value}/{total} {_clock(elapsed)}&lt;{_clock(remain)}"
        bar = f"<progress value='{value}' max='{total}' style='width:300px; height:20px; vertical-align: middle;'>"
    else:
        text = f"[{value} {_clock(elapsed)}"
        bar = "<progress style='width:300px; height:20px; vertical-align: middle;'>"
    if comment:
        text += f" {html.escape(comment)}"
    text += "]"
    label = f"{html.escape(desc)} " if desc else ""
    return f"<div>{label}{bar}</progress> {text}</div>"


def html_table(names: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The epoch table (the Recorder's columns) as an HTML table."""
    head = "".join(f"<th>{html.escape(str(n))}</th>" for n in names)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return (f'<table border="1" class="dataframe"><thead><tr style="text-align: left;">{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


class NotebookBoard:
    """The two display areas of a fit: the current bar and the epoch table.

    ``display`` is ``IPython.display.display``-like (``display(obj, display_id=True)`` returns a
    handle with ``update(obj)``); ``html`` wraps a string (``IPython.display.HTML``). Both default to
    IPython's; they are parameters so the rendering can be checked outside Jupyter.
    """

    def __init__(self, display: Any = None, html_cls: Any = None, min_interval: float = 0.2) -> None:
        if display is None or html_cls is None:
            from IPython.display import HTML
            from IPython.display import display as ipy_display

            display, html_cls = display or ipy_display, html_cls or HTML
        self._display, self._html, self.min_interval = display, html_cls, min_interval
        self._bar: Any = None
        self._table: Any = None
        self.names: list[str] = []
        self.rows: list[list[str]] = []
        self.total: int | None = None
        self.value, self.desc, self.comment = 0, "", ""
        self._start = self._last = 0.0

    def _show(self, handle: Any, text: str) -> Any:
        if handle is None:
            return self._display(self._html(text), display_id=True)
        handle.update(self._html(text))
        return handle

    def start_bar(self, total: int | None, desc: str) -> None:
        self.total, self.desc, self.value, self.comment = total, desc, 0, ""
        self._start = self._last = time.perf_counter()
        self._bar = self._show(self._bar, self.bar_html())

    def bar_html(self) -> str:
        return html_progress(self.value, self.total, self.desc, self.comment, time.perf_counter() - self._start)

    def step(self) -> bool:
        """Count one batch; True when the bar is due for a redraw (``min_interval`` passed, or the end)."""
        self.value += 1
        return self.value == self.total or time.perf_counter() - self._last >= self.min_interval

    def redraw(self, comment: str | None = None) -> None:
        if comment is not None:
            self.comment = comment
        self._last = time.perf_counter()
        self._bar = self._show(self._bar, self.bar_html())

    def end_bar(self) -> None:
        if self._bar is not None:
            self._bar = self._show(self._bar, self.bar_html())

    def add_row(self, names: Sequence[str], row: Sequence[str]) -> None:
        if names:
            self.names = list(names)
        self.rows.append(list(row))
        self._table = self._show(self._table, self.table_html())

    def table_html(self) -> str:
        return html_table(self.names, self.rows)
