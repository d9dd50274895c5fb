"""Seeded fuzzing of the file reader and of load_learner: random bytes, mutated valid files, mutated headers.

The only acceptable outcomes are a successful load or one of the reader's own errors, which name the file;
never a bare KeyError/AttributeError/RecursionError, a crash, or a payload."""
from __future__ import annotations

import json
import random
import struct

import pytest
from safetensors import safe_open
from safetensors.torch import load_file as st_load
from safetensors.torch import save_file as st_save

from tests.security.helpers import make_export
from torchloom import TargetError, load_learner
from torchloom._persist.learner_io import MissingPluginError
from torchloom._persist.safe import (
    MAX_DEPTH,
    BadFileError,
    UnsafeFileError,
    json_depth,
    load_file,
    parse_header,
)

OK = (BadFileError, UnsafeFileError, TargetError, MissingPluginError)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return make_export(tmp_path_factory.mktemp("fuzz"))


def _expect_clean(fn, path):
    try:
        fn(path)
    except OK as e:
        assert str(path) in str(e), f"error does not name the file: {e}"
    except ValueError as e:  # a well-formed file of the wrong kind ("... is a 'weights' file, not an export")
        assert str(path) in str(e), f"error does not name the file: {e}"


def test_random_bytes(tmp_path):
    rng = random.Random(1234)
    p = tmp_path / "rand.safetensors"
    for i in range(300):
        n = rng.randrange(0, 200)
        body = bytes(rng.randrange(256) for _ in range(n))
        if i % 3 == 0:  # a plausible length prefix and a JSON-looking start
            body = struct.pack("<Q", rng.randrange(0, n + 16)) + b"{" + body
        p.write_bytes(body)
        _expect_clean(load_file, p)


def test_mutated_valid_files(good, tmp_path):
    rng = random.Random(99)
    data = good.read_bytes()
    p = tmp_path / "mut.safetensors"
    for _ in range(300):
        b = bytearray(data)
        op = rng.randrange(4)
        if op == 0:  # flip bytes anywhere (mostly in the header, where the parser works)
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(min(len(b), 4096))] = rng.randrange(256)
        elif op == 1:
            b = b[:rng.randrange(len(b))]
        elif op == 2:
            i = rng.randrange(len(b))
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
        else:
            i, j = sorted(rng.randrange(len(b)) for _ in range(2))
            del b[i:j]
        p.write_bytes(bytes(b))
        _expect_clean(load_learner, p)


def _mutate(v, rng, depth=0):
    """A random structural change somewhere in a JSON value."""
    junk = [None, 0, -1, 10**12, 1.5, "", "os:system", "torch:os.system", [], {}, [[[]]], {"__tensor__": "nope"},
            {"__items__": 5}, {"__tuple__": {}}, {"__dtype__": "nothing"}, {"__float__": "nan"}, True]
    if isinstance(v, dict) and v and rng.random() < 0.8:
        k = rng.choice(list(v))
        r = rng.random()
        if r < 0.3:
            del v[k]
        elif r < 0.6:
            v[k] = rng.choice(junk)
        else:
            v[k] = _mutate(v[k], rng, depth + 1)
        return v
    if isinstance(v, list) and v and rng.random() < 0.8:
        i = rng.randrange(len(v))
        v[i] = _mutate(v[i], rng, depth + 1) if rng.random() < 0.5 else rng.choice(junk)
        return v
    return rng.choice(junk)


def test_mutated_headers(good, tmp_path):
    rng = random.Random(7)
    with safe_open(str(good), framework="pt") as f:
        doc = json.loads(f.metadata()["torchloom"])
    tensors = st_load(str(good))
    p = tmp_path / "hdr.safetensors"
    for _ in range(150):
        d = json.loads(json.dumps(doc))
        for _ in range(rng.randrange(1, 4)):
            d = _mutate(d, rng)
        st_save(tensors, str(p), metadata={"torchloom": json.dumps(d)})
        _expect_clean(load_learner, p)


def test_header_parser_caps():
    assert json_depth('{"a": [1, {"b": "[[[[[["}]}') == 3  # brackets inside strings do not count
    assert json_depth(r'["\"[[[", []]') == 2
    rng = random.Random(5)
    for _ in range(200):
        s = "".join(rng.choice('[]{}"\\:,1a ') for _ in range(rng.randrange(0, 60)))
        try:
            parse_header(s, "h.json")
        except BadFileError as e:
            assert str(e).startswith("h.json: ")
    with pytest.raises(BadFileError, match="nests"):
        parse_header("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "h.json")
    assert parse_header("[" * MAX_DEPTH + "]" * MAX_DEPTH, "h.json")
