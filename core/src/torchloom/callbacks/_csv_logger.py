"""``learn.use("csv_logger")``: the epoch table appended to a CSV file, one flushed row per epoch.

The file survives a crash with every finished epoch in it. A resumed fit (``fit(..., resume=...)``
or ``start_epoch > 0``) keeps the rows of the epochs before the one it restarts from and appends
after them, so the file reads as one run; ``append=True`` keeps every earlier row. Appending to a
file whose columns differ is refused before training starts (mixed columns would be unreadable).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from torchloom._persist.atomic import atomic_write
from torchloom.callbacks._logger import LoggerCallback

__all__ = ["CSVLogger"]


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return "" if v is None else str(v)


class CSVLogger(LoggerCallback):
    """Write the Recorder's epoch rows (``epoch, train_loss, valid_loss, *metrics, time``) to ``fname``.

    ``fname`` is relative to ``learn.path`` unless absolute. ``append=False`` starts a new file for a
    fresh fit (fastai's default); resumed fits always append (see the module docstring). Unlike the
    other loggers, a failure to write the file stops the fit: the file is the run's record.
    """

    on_error = "raise"

    def __init__(self, fname: str | os.PathLike = "history.csv", append: bool = False) -> None:
        super().__init__()
        self.fname, self.append = Path(fname), append
        self._file: Path | None = None  # resolved when a fit starts (a later chdir does not move it)

    @property
    def path(self) -> Path:
        """Where the file is: ``learn.path / fname``, as resolved by the last fit."""
        if self._file is not None:
            return self._file
        return self.fname if self.fname.is_absolute() else Path(self.learn.path) / self.fname

    def read(self) -> list[dict[str, Any]]:
        """The rows written so far, numbers as int/float (``time`` stays a string)."""
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        return [{k: _parse(k, v) for k, v in r.items()} for r in rows]

    def start(self, hparams: dict[str, Any]) -> None:
        rec = self.learn.recorder
        names = list(rec.metric_names)
        self._file = None
        path = self._file = self.path.resolve()
        resume = self.learn.start_epoch > 0
        keep: list[list[str]] = []
        if (self.append or resume) and path.exists() and path.stat().st_size:
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            header, body = rows[0], rows[1:]
            if header != names:
                raise ValueError(f"csv_logger: cannot append to {path}: its columns are {header}, this fit "
                                 f"writes {names}; pass another fname or append=False")
            keep = body if self.append and not resume else [r for r in body if r and int(r[0]) < self.learn.start_epoch]
        buf = io.StringIO()
        csv.writer(buf).writerows([names, *keep])
        with atomic_write(path, "w", newline="") as f:
            f.write(buf.getvalue())
        self._names = names

    def log_epoch(self, step: int, values: dict[str, Any]) -> None:
        log = self.learn.recorder.log  # the full row, with the formatted time
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([_cell(v) for v in log])
            f.flush()
            os.fsync(f.fileno())


def _parse(key: str, v: str) -> Any:
    if key == "time" or v == "":
        return v or None
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v
