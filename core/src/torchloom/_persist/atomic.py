"""Atomic file writes: a crash or kill mid-write never leaves a half-written file behind."""
from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "remove_orphans"]


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# a temp file's name says which host and process wrote it: ``.<name>.<host>-<pid>.<random>.tmp``
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_FOREIGN_MAX_AGE = 24 * 3600  # a temp file of another host (shared file system) is an orphan after a day


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or we cannot tell): keep its file
    return True


def remove_orphans(path: str | os.PathLike) -> list[Path]:
    """Delete temp files that a killed writer of ``path`` left beside it; returns what was removed.

    A temp file is an orphan when the process that made it (on this host) no longer runs, or, for
    another host's file, when it is older than a day. A writer still running keeps its file."""
    path = Path(path)
    removed = []
    prefix = f".{path.name}."
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return removed
    for tmp in candidates:
        tag = tmp.name[len(prefix):].split(".", 1)[0]
        host, _, pid = tag.partition("-")
        try:
            if host == _HOST and pid.isdigit():
                orphan = not _alive(int(pid))
            else:
                orphan = time.time() - tmp.stat().st_mtime > _FOREIGN_MAX_AGE
            if orphan:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO]:
    """Write ``path`` through a temp file in the same directory, then ``os.replace`` it into place.

    The data is flushed and fsynced before the rename, so readers see either the old file or the
    complete new one. If the body raises, the temp file is removed and the old file is untouched;
    temp files left by a writer that was killed (SIGKILL, power loss) are removed by the next write.
    """
    if not any(c in mode for c in "wx") or "+" in mode:
        raise ValueError(f"atomic_write needs a write-only mode such as 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_HOST}-{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode.replace("x", "w"), **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if "x" in mode and path.exists():
            raise FileExistsError(f"{path} already exists (mode {mode!r})")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
