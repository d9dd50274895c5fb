"""Worker failures made explicit: a hung worker times out, a crashed or killed one is reported as such.

torch's own errors say "DataLoader timed out" (with no default timeout at all: a hung worker blocks
forever) or surface a killed worker as ``ConnectionResetError``/``FileNotFoundError`` from its shared
memory. Here they become one :class:`WorkerError` naming the batch, its dataset items and the worker.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["DEFAULT_WORKER_TIMEOUT", "WorkerError", "default_worker_timeout", "watch_workers"]

DEFAULT_WORKER_TIMEOUT = 600.0


class WorkerError(RuntimeError):
    """A DataLoader worker hung past the timeout, crashed or was killed."""


def default_worker_timeout() -> float:
    """Seconds to wait for one batch from the workers: ``TORCHLOOM_WORKER_TIMEOUT`` (0 waits forever),
    else 600. A ``DataLoader(timeout=...)`` argument overrides it."""
    raw = os.environ.get("TORCHLOOM_WORKER_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_WORKER_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"TORCHLOOM_WORKER_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"TORCHLOOM_WORKER_TIMEOUT must be >= 0, got {raw!r}")
    return value


_TRANSPORT = (ConnectionResetError, ConnectionRefusedError, FileNotFoundError, EOFError, BrokenPipeError)


def _failure_kind(e: BaseException) -> str | None:
    msg = str(e)
    if "in DataLoader worker process" in msg:
        return None  # an error of the dataset or a transform, re-raised by torch from the worker: keep it
    if isinstance(e, RuntimeError) and msg.startswith("DataLoader timed out"):
        return "timeout"
    if isinstance(e, RuntimeError) and "DataLoader worker (pid" in msg:
        return "crash"
    if isinstance(e, _TRANSPORT):
        return "crash"
    return None


def watch_workers(batches: Iterable[Any], sampler: Any, num_workers: int, timeout: float) -> Iterator[Any]:
    """Yield ``batches`` (from a torch DataLoader over ``sampler``), turning worker failures into WorkerError."""
    it = iter(batches)
    n = 0
    while True:
        try:
            b = next(it)
        except StopIteration:
            return
        except Exception as e:
            kind = _failure_kind(e)
            if kind is None:
                raise
            drawn = getattr(sampler, "drawn", [])
            key = drawn[n] if n < len(drawn) else None
            items = list(key[2]) if key is not None else []
            shown = f"{items[:10]}{'...' if len(items) > 10 else ''}"
            where = (f"batch {n} of this epoch (dataset items {shown}), handled by worker {n % num_workers} "
                     f"of {num_workers}")
            if kind == "timeout":
                raise WorkerError(
                    f"DataLoader worker timed out: no batch after {timeout:g} s while waiting for {where}. An item "
                    "or a transform hangs (or is very slow); raise DataLoader(timeout=...) or "
                    "TORCHLOOM_WORKER_TIMEOUT (0 waits forever), or run with num_workers=0 to debug it") from e
            in_flight = [f"batch {k[1]} (items {list(k[2])[:10]}{'...' if len(k[2]) > 10 else ''})"
                         for k in drawn[n:n + 2 * num_workers]]
            raise WorkerError(
                f"DataLoader worker crashed or was killed ({type(e).__name__}: {e}) while this process waited for "
                f"batch {n} of this epoch; the dead worker was building one of the batches in flight: "
                f"{', '.join(in_flight) or 'unknown'}. A worker dies on a segfault, an out-of-memory kill or a "
                "signal; run with num_workers=0 to see the error in this process") from e
        n += 1
        yield b
