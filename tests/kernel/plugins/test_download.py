"""download_file against a real HTTP server on 127.0.0.1 and file:// URLs: checksum, atomicity, offline."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from torchloom._download import DownloadError, cache_dir, download_file

PAYLOAD = b"torchloom test payload\n" * 5000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path == "/data.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_verifies_and_caches(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "data.bin"
    assert download_file(f"{server}/data.bin", dest, SHA) == dest
    assert dest.read_bytes() == PAYLOAD
    assert download_file(f"{server}/data.bin", dest, SHA.upper()) == dest  # already there: no second request
    assert _Handler.hits == ["/data.bin"]
    assert _leftovers(dest.parent) == ["data.bin"]


def test_checksum_mismatch_keeps_destination_untouched(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match=f"checksum mismatch for {server}/data.bin: expected sha256 0+, got {SHA}"):
        download_file(f"{server}/data.bin", dest, "0" * 64)
    assert _leftovers(tmp_path) == []  # no half file, no temp file


def test_corrupt_existing_file_is_replaced_atomically(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"truncated")
    download_file(f"{server}/data.bin", dest, SHA)
    assert dest.read_bytes() == PAYLOAD and _leftovers(tmp_path) == ["data.bin"]


def test_http_error_names_url_and_local_copy_alternative(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "x.bin"
    with pytest.raises(DownloadError) as err:
        download_file(f"{server}/missing.bin", dest, SHA)
    msg = str(err.value)
    assert f"could not download {server}/missing.bin" in msg and "Not Found" in msg
    assert f"copy the file to {dest} (sha256 {SHA})" in msg and "TORCHLOOM_HOME" in msg
    assert _leftovers(tmp_path) == []


def test_offline_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused, like being offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data.bin"
    with pytest.raises(DownloadError, match=f"could not download {url}: .*refused.*offline"):
        download_file(url, tmp_path / "data.bin", SHA, timeout=5)
    assert isinstance(DownloadError("x"), OSError)


def test_file_url(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "copy.bin"
    download_file(src.as_uri(), dest, SHA)
    assert dest.read_bytes() == PAYLOAD


def test_cache_dir_honours_torchloom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHLOOM_HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home"
    monkeypatch.delenv("TORCHLOOM_HOME")
    assert cache_dir() == Path.home() / ".cache" / "torchloom"
