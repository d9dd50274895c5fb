"""Faults: a writer killed mid-save leaves an orphan temp file that the next save removes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import torch

from torchloom._persist.atomic import atomic_write, remove_orphans
from torchloom._persist.safe import load_file, save_file

KILLED_WRITER = """
import os, signal, sys
from torchloom._persist.atomic import atomic_write
with atomic_write(sys.argv[1], "wb") as f:
    f.write(b"half a file")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_orphan_temp_files_of_a_killed_writer_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "model.safetensors"
    save_file(target, {"w": torch.ones(3)})
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(target)], timeout=120)
        assert proc.returncode == -signal.SIGKILL
    orphans = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert len(orphans) == 1  # each new write already removed the previous orphan
    obj, _ = load_file(target)  # the old file is intact
    assert torch.equal(obj["w"], torch.ones(3))
    save_file(target, {"w": torch.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    assert torch.equal(load_file(target)[0]["w"], torch.zeros(3))


def test_a_live_writers_temp_file_is_kept(tmp_path):
    target = tmp_path / "x.bin"
    with atomic_write(target) as f:
        f.write(b"1")
        live = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(live) == 1 and str(os.getpid()) in live[0].name
        assert remove_orphans(target) == []  # another save of the same file meanwhile keeps it
        assert live[0].exists()
    assert target.read_bytes() == b"1"


def test_an_old_foreign_temp_file_is_removed(tmp_path):
    target = tmp_path / "x.bin"
    foreign = tmp_path / ".x.bin.otherhost-1.abc123.tmp"
    fresh = tmp_path / ".x.bin.otherhost-2.def456.tmp"
    foreign.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(foreign, (0, 0))
    assert remove_orphans(target) == [foreign]
    assert fresh.exists()
