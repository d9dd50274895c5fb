"""Atomic writes, safetensors+JSON round trips, and refusal of pickles / foreign files."""
from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from torchloom._persist.atomic import atomic_write
from torchloom._persist.safe import (
    UnsafeFileError,
    flatten,
    load_file,
    model_factory,
    resolve_factory,
    save_file,
    unflatten,
)


def test_atomic_write_replaces_and_cleans_up(tmp_path):
    f = tmp_path / "a.txt"
    with atomic_write(f, "w") as fh:
        fh.write("one")
    assert f.read_text() == "one"
    with pytest.raises(RuntimeError, match="boom"), atomic_write(f, "w") as fh:
        fh.write("two-partial")
        raise RuntimeError("boom")
    assert f.read_text() == "one"
    assert os.listdir(tmp_path) == ["a.txt"]  # temp file removed
    with pytest.raises(ValueError, match="write-only mode"):
        with atomic_write(f, "r"):
            pass


def test_atomic_write_survives_sigkill_mid_write(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"OLD" * 1000)
    script = textwrap.dedent(f"""
        import sys, time
        from torchloom._persist.atomic import atomic_write
        with atomic_write({str(f)!r}) as fh:
            fh.write(b"NEW" * 100000)
            fh.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert f.read_bytes() == b"OLD" * 1000  # the previous file is intact


def test_nested_roundtrip_keeps_types(tmp_path):
    torch.manual_seed(0)
    obj = {
        "w": torch.randn(3, 4), "i": torch.arange(5), "b": torch.tensor([True, False]),
        "groups": [{"lr": 1e-3, "betas": (0.9, 0.99)}, {"lr": float("inf")}],
        "by_int": {0: torch.ones(2), 7: {"step": 3}},
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        "none": None, "name": "x", "dtype": torch.float16,
    }
    save_file(tmp_path / "x.safetensors", obj, meta={"kind": "test"})
    back, meta = load_file(tmp_path / "x.safetensors")
    assert meta == {"kind": "test"}
    assert torch.equal(back["w"], obj["w"]) and back["i"].dtype == torch.int64 and back["b"].dtype == torch.bool
    assert back["groups"][0]["betas"] == (0.9, 0.99) and back["groups"][1]["lr"] == float("inf")
    assert set(back["by_int"]) == {0, 7} and back["by_int"][7] == {"step": 3}
    assert back["dtype"] is torch.float16 and back["none"] is None
    random.setstate(back["rng"]["python"])
    np.random.set_state(back["rng"]["numpy"])
    torch.set_rng_state(back["rng"]["torch"])
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    random.setstate(obj["rng"]["python"])
    np.random.set_state(obj["rng"]["numpy"])
    torch.set_rng_state(obj["rng"]["torch"])
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())


def test_shared_and_noncontiguous_tensors_are_saved(tmp_path):
    base = torch.randn(4, 6)
    obj = {"a": base, "tied": base, "t": base.t(), "view": base[1]}
    save_file(tmp_path / "s.safetensors", obj)
    back, _ = load_file(tmp_path / "s.safetensors")
    assert torch.equal(back["tied"], base) and torch.equal(back["t"], base.t()) and torch.equal(back["view"], base[1])


def test_unsupported_objects_named(tmp_path):
    with pytest.raises(TypeError, match=r"at 'cfg.fn'.*never pickles"):
        flatten({"cfg": {"fn": lambda x: x}})
    assert unflatten(*flatten([1, (2, 3)])) == [1, (2, 3)]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_is_refused_and_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    f = tmp_path / "model.safetensors"
    f.write_bytes(pickle.dumps({"model": _Evil(str(marker))}))
    with pytest.raises(UnsafeFileError, match=r"model\.safetensors is a pickle.*refused"):
        load_file(f)
    assert not marker.exists()
    z = tmp_path / "ckpt.safetensors"
    torch.save({"model": _Evil(str(marker))}, z)
    with pytest.raises(UnsafeFileError, match=r"ckpt\.safetensors is a zip archive"):
        load_file(z)
    assert not marker.exists()
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x01" * 64)
    with pytest.raises(UnsafeFileError, match="junk.safetensors is not a safetensors file"):
        load_file(junk)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_file(tmp_path / "nope.safetensors")


def test_foreign_safetensors_without_our_header(tmp_path):
    from safetensors.torch import save_file as st_save_file

    f = tmp_path / "hf.safetensors"
    st_save_file({"w": torch.ones(2)}, str(f))
    with pytest.raises(UnsafeFileError, match="not one written by torchloom"):
        load_file(f)


@model_factory
def tiny_net(n_in: int = 3, n_out: int = 2) -> nn.Module:
    return nn.Linear(n_in, n_out)


def not_marked() -> nn.Module:
    return nn.Linear(1, 1)


def test_resolve_factory_only_calls_modules_and_marked_functions():
    assert resolve_factory("torch.nn:Linear") is nn.Linear
    assert resolve_factory(f"{__name__}:tiny_net")(4, 1).in_features == 4
    with pytest.raises(ValueError, match="refusing model factory target 'os:system'"):
        resolve_factory("os:system")
    with pytest.raises(ValueError, match="refusing model factory target"):
        resolve_factory(f"{__name__}:not_marked")
    with pytest.raises(ValueError, match="module .no_such_mod_xyz. is not imported"):
        resolve_factory("no_such_mod_xyz:Net")
    with pytest.raises(ValueError, match="module:QualName"):
        resolve_factory("torch.nn.Linear")
