"""Checksum-verified, atomic downloads into a cache directory (urllib only, no extra dependency)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

_CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed (offline, HTTP error, checksum mismatch); the message names the URL and the fix."""


def cache_dir() -> Path:
    """Where datasets are cached: ``$TORCHLOOM_HOME`` or ``~/.cache/torchloom`` (not created here)."""
    home = os.environ.get("TORCHLOOM_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "torchloom"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download_file(url: str, dest: str | os.PathLike[str], sha256: str, *, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right checksum is already there.

    The data goes to a temporary file beside ``dest`` and is renamed into place only after its
    SHA-256 matched, so an interrupted or corrupted download never leaves a half file at ``dest``.
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.exists():
        if sha256_file(dest) == expected:
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        h.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as e:
                reason = getattr(e, "reason", e)
                raise DownloadError(
                    f"could not download {url}: {reason}. If this machine is offline, copy the file to "
                    f"{dest} (sha256 {expected}) or point TORCHLOOM_HOME at a folder holding a local copy."
                ) from e
        got = h.hexdigest()
        if got != expected:
            raise DownloadError(f"checksum mismatch for {url}: expected sha256 {expected}, got {got}; "
                                f"the download was discarded and {dest} left untouched")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)
