"""``torchloom predict EXPORT INPUTS... [--batch-size N] [--out preds.csv]``: batch inference at scale.

Inputs (files, folders walked in name order, CSV/TSV lists) are streamed: only one batch of samples
is in memory at a time, whatever the number of inputs. The export's JSON names the reader (a
plugin's registered name) that turns each input into model-ready arrays. An unreadable input stops
the run with an error naming it (``--on-error stop``, the default; the output file is then not
written) or is reported and recorded with an empty prediction (``--on-error skip``).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["UnreadableItemError", "PredictSummary", "predict_files", "configure"]


class UnreadableItemError(RuntimeError):
    """An input could not be read (``--on-error stop``); the message names it."""


@dataclass
class PredictSummary:
    """What a ``predict_files`` run did: items predicted and the unreadable ones (item, reason)."""

    n_predicted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _decode(out: np.ndarray, spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(prediction, score) per row of the model's first output, as the learner's ``predict`` decodes it."""
    info, classes = spec.get("output") or {}, spec.get("classes")
    rows = []
    flat = out.reshape(len(out), -1)
    for r in flat:
        if info.get("decodes") == "argmax":
            i = int(r.argmax())
            rows.append((classes[i] if classes and i < len(classes) else str(i), f"{float(r[i]):.6g}"))
        elif info.get("decodes") == "threshold":
            hit = np.nonzero(r > info.get("threshold", 0.5))[0]
            names = [classes[i] if classes and i < len(classes) else str(i) for i in hit]
            rows.append((";".join(names), ";".join(f"{float(r[i]):.6g}" for i in hit)))
        else:
            rows.append((";".join(f"{float(v):.6g}" for v in r), ""))
    return rows


class _Batcher:
    """Collects read samples (and unreadable placeholders, to keep input order) and writes rows per batch."""

    def __init__(self, model: Any, reader: Any, writer: Any, bs: int, probs: bool, skip: bool) -> None:
        self.model, self.writer, self.bs, self.probs, self.skip = model, writer, bs, probs, skip
        self.collate = getattr(reader, "collate", None)
        self.pending: list[tuple[str, Any, str]] = []
        self.n_ready = 0
        self.n_predicted = 0

    def add(self, item: str, sample: Any, error: str = "") -> None:
        self.pending.append((item, sample, error))
        if not error:
            self.n_ready += 1
        if self.n_ready >= self.bs:
            self.flush()

    def flush(self) -> None:
        ready = [s for _, s, err in self.pending if not err]
        decoded: Iterator[tuple[str, str]] = iter(())
        probs: Iterator[np.ndarray] = iter(())
        if ready:
            cols = list(self.collate(ready)) if self.collate is not None else [np.stack(c) for c in zip(*ready)]
            out = self.model(*cols)[0]
            decoded, probs = iter(_decode(out, self.model.spec)), iter(out.reshape(len(out), -1))
        n_cls = len(self.model.classes or ())
        for item, _, err in self.pending:
            if err:
                row = [item, "", ""] + ([""] * n_cls if self.probs else []) + [err]
            else:
                pred, score = next(decoded)
                p = next(probs)
                row = [item, pred, score] + ([f"{float(v):.6g}" for v in p] if self.probs else [])
                row += [""] if self.skip else []
                self.n_predicted += 1
            self.writer.writerow(row)
        self.pending, self.n_ready = [], 0


def _as_sample(x: Any) -> tuple[np.ndarray, ...]:
    xs = x if isinstance(x, tuple) else (x,)
    return tuple(np.asarray(a) for a in xs)


def predict_files(export: str | os.PathLike, inputs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None,
                  batch_size: int = 64, column: str | None = None, on_error: str = "stop", probs: bool = False,
                  progress: bool = True, stream: IO[str] | None = None) -> PredictSummary:
    """Predict every input with a portable export and write ``item,prediction,probability`` CSV rows to
    ``out`` (atomically) or ``stream`` (default: standard output)."""
    from tqdm.auto import tqdm

    from torchloom._deploy.readers import check_inputs, iter_items
    from torchloom._deploy.runtime import load_exported
    from torchloom._persist.atomic import atomic_write

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {batch_size!r}")
    if on_error not in ("stop", "skip"):
        raise ValueError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
    paths = check_inputs(inputs)
    model = load_exported(export)
    reader = model.reader()
    skip = on_error == "skip"
    header = ["item", "prediction", "probability"] + (list(model.classes or ()) if probs else [])
    header += ["error"] if skip else []
    summary = PredictSummary()
    sink = atomic_write(out, "w", newline="", encoding="utf-8") if out is not None else \
        contextlib.nullcontext(stream if stream is not None else sys.stdout)
    with sink as f:
        writer = csv.writer(f)
        writer.writerow(header)
        batcher = _Batcher(model, reader, writer, batch_size, probs, skip)
        bar = tqdm(iter_items(paths, reader, column), unit="item", desc="predict", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
        with contextlib.closing(bar):
            for item in bar:
                try:
                    sample = _as_sample(reader(item))
                except Exception as e:
                    msg = f"cannot read {item}: {type(e).__name__}: {e}"
                    if not skip:
                        raise UnreadableItemError(f"{msg} (pass --on-error skip to record it and carry on)") from e
                    summary.failed.append((item, msg))
                    bar.write(f"torchloom predict: skipped: {msg}", file=sys.stderr)
                    batcher.add(item, None, msg)
                    continue
                batcher.add(item, sample)
            batcher.flush()
    summary.n_predicted = batcher.n_predicted
    return summary


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``torchloom predict``."""
    parser.add_argument("export", help="an export: the .onnx or .pt2 file written by learn.export(..., "
                                       "format='onnx' | 'torch.export'), its .json, or the default .safetensors "
                                       "export (needs torch and the learner's plugins)")
    parser.add_argument("inputs", nargs="+", help="files, folders (walked recursively) or CSV/TSV files listing "
                                                  "the inputs")
    parser.add_argument("--batch-size", "--bs", type=int, default=64, help="samples per model call (default 64)")
    parser.add_argument("--out", help="CSV file to write (written atomically; default: standard output)")
    parser.add_argument("--column", help="the CSV column holding the inputs (default: the first)")
    parser.add_argument("--on-error", choices=("stop", "skip"), default="stop",
                        help="an unreadable input stops the run (default) or is recorded and skipped")
    parser.add_argument("--probs", action="store_true", help="add one probability column per class")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_handler)


def _handler(args: argparse.Namespace) -> int:
    from torchloom._deploy.spec import InvalidExportError
    from torchloom._persist.learner_io import MissingPluginError

    try:
        s = predict_files(args.export, args.inputs, out=args.out, batch_size=args.batch_size, column=args.column,
                          on_error=args.on_error, probs=args.probs, progress=not args.no_progress)
    except (InvalidExportError, MissingPluginError, UnreadableItemError, FileNotFoundError, ImportError,
            ValueError) as e:
        print(f"torchloom predict: error: {e}", file=sys.stderr)
        return 1
    where = f" -> {Path(args.out)}" if args.out else ""
    failed = f", {len(s.failed)} unreadable (skipped)" if s.failed else ""
    print(f"torchloom predict: {s.n_predicted} item(s) predicted{failed}{where}", file=sys.stderr)
    return 0
