"""Domain readers for portable exports, and the walk over the inputs handed to ``torchloom predict``.

A reader turns one input (a file path, or a CSV cell) into the model-ready arrays of one sample,
reproducing the preprocessing of the DataLoaders the model was trained with. A plugin provides one
by registering a transform with ``reader=True`` in its ``register_transforms`` hook::

    register("image_reader", "torchloom_vision.reader:ImageReader", reader=True, doc="...")

The target class implements:

* ``describe(dls) -> dict | None`` (classmethod): the JSON-able preprocessing of ``dls``, or
  ``None`` when the data is not of this reader's domain (``learn.export`` asks every reader);
* ``__init__(preprocess: dict)``: build the reader from what ``describe`` returned;
* ``extensions``: the file suffixes a folder input yields (empty: folders are not read);
* ``paths``: True when CSV cells name files (resolved against the CSV's folder), False when the
  cell itself is the input (text);
* ``__call__(item: str)``: one sample as a float32/int64 ``numpy`` array (or a tuple of them, one
  per model input), without the batch dimension. Raise any exception for an unreadable item.

Optional: ``collate(samples) -> tuple of batched arrays`` when samples differ in shape (default:
``numpy.stack`` per input), and ``dynamic_axes = {1: "seq"}``, the axes besides the batch that the
export keeps variable (e.g. a text reader's sequence length).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["reader_entries", "describe_data", "load_reader", "check_inputs", "iter_items"]


def reader_entries() -> list[Any]:
    """Registry entries of every installed reader (transforms registered with ``reader=True``)."""
    from torchloom._plugins.manager import get_registry

    reg = get_registry()
    out = []
    for name in reg.names("transform"):
        try:
            e = reg.entry("transform", name)
        except Exception:  # a name clash: unusable, and reported by `torchloom plugins`
            continue
        if e.extra.get("reader"):
            out.append(e)
    return out


def describe_data(dls: Any) -> tuple[Any, dict[str, Any]] | tuple[None, None]:
    """The first reader whose ``describe(dls)`` recognises the data, and its preprocessing."""
    for e in reader_entries():
        desc = e.load().describe(dls)
        if desc is not None:
            return e, desc
    return None, None


def load_reader(spec: dict[str, Any], source: str | os.PathLike) -> Any:
    """Build the reader an export names; a missing plugin is an error naming the distribution to install."""
    from torchloom._deploy.spec import InvalidExportError
    from torchloom._persist.learner_io import MissingPluginError
    from torchloom._plugins.errors import UnknownNameError
    from torchloom._plugins.manager import get_registry

    info = spec.get("reader")
    if not isinstance(info, dict) or not isinstance(info.get("name"), str):
        raise InvalidExportError(f"{source} names no reader for its inputs (the data had no registered reader "
                                 "when it was exported); feed the model yourself with load_exported(...)")
    name = info["name"]
    try:
        e = get_registry().entry("transform", name)
    except UnknownNameError:
        dist = info.get("dist", "?")
        raise MissingPluginError(f"{source} needs the reader {name!r} from distribution {dist} "
                                 f"{info.get('version', '')}, which is not installed here: pip install {dist}") from None
    if not e.extra.get("reader"):
        raise InvalidExportError(f"{source} names reader {name!r}, but {e.dist} registers {name!r} as a transform, "
                                 "not a reader (reader=True)")
    return e.load()(dict(info.get("preprocess") or {}))


def check_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Every input must exist before anything runs (a typo should not cost a half-done run)."""
    paths = [Path(p) for p in inputs]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    return paths


def _walk(folder: Path, extensions: tuple[str, ...]) -> Iterator[str]:
    """Files under ``folder`` with a matching suffix, depth first in name order, one folder listed at a time."""
    with os.scandir(folder) as it:
        entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    for e in entries:
        if e.is_dir():
            yield from _walk(Path(e.path), extensions)
        elif os.path.splitext(e.name)[1].lower() in extensions:
            yield e.path


def _csv_items(path: Path, column: str | None, paths: bool) -> Iterator[str]:
    """Cells of one column, streamed; with no ``column``, the first one (its first row is a header unless it
    names an existing file)."""
    base = path.parent
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        header = next(rows, None)
        if header is None:
            return
        if column is not None:
            if column not in header:
                raise ValueError(f"{path} has no column {column!r} (columns: {', '.join(header)})")
            idx = header.index(column)
        else:
            idx = 0
            first = header[0] if header else ""
            if paths and first and ((base / first).is_file() or Path(first).is_file()):
                rows = _chain([header], rows)
        for row in rows:
            if not row or idx >= len(row):
                continue
            cell = row[idx]
            if paths and cell and not os.path.isabs(cell) and not Path(cell).exists():
                cell = str(base / cell)
            yield cell


def _chain(first: list[list[str]], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield from first
    yield from rest


def iter_items(inputs: Iterable[Path], reader: Any, column: str | None = None) -> Iterator[str]:
    """Stream the items of ``inputs`` (files, folders, CSV/TSV lists) for ``reader``, never all at once."""
    exts = tuple(x.lower() for x in getattr(reader, "extensions", ()) or ())
    paths = bool(getattr(reader, "paths", True))
    for p in inputs:
        if p.is_dir():
            if not exts:
                raise ValueError(f"{p} is a folder, but the reader {type(reader).__name__} does not read files "
                                 "from folders; pass a CSV listing the inputs")
            yield from _walk(p, exts)
        elif p.suffix.lower() in (".csv", ".tsv") and p.suffix.lower() not in exts:
            yield from _csv_items(p, column, paths)
        else:
            yield str(p)
