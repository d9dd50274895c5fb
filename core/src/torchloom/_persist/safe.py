"""Safe persistence: tensors in safetensors, everything else in JSON; pickles are refused.

A torchloom file is one safetensors file whose metadata header holds a JSON document
(``{"format": ..., "meta": ...}``). Nested Python structures (optimizer state, callback state, RNG
states) are flattened into named tensors plus a JSON skeleton by ``flatten``/``unflatten``, which
only ever produce tensors, numbers, strings, lists, tuples and dicts: loading never runs code.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as st_save
from torch import Tensor, nn

from torchloom._distributed.env import barrier, is_distributed, is_main_process
from torchloom._persist.atomic import atomic_write
from torchloom._targets import MODEL, import_target, model_factory, target_of

__all__ = [
    "FORMAT", "BadFileError", "UnsafeFileError", "check_safe_file", "flatten", "load_file", "model_factory", "resolve_factory",
    "save_file", "unflatten",
]

FORMAT = "torchloom/1"
_META_KEY = "torchloom"


class UnsafeFileError(ValueError):
    """A file where a torchloom safetensors file is expected is something else (a pickle, a zip...)."""


class BadFileError(ValueError):
    """A torchloom file is truncated, malformed or inconsistent; the message names the file and the field."""


# caps on what a file may make the reader do (a header is JSON text; deeper nesting has no legitimate use)
MAX_HEADER_BYTES = 64 * 2**20
MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of ``[``/``{`` in JSON ``text`` (strings skipped), without recursion."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    arr = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    if arr.size == 0:
        return 0
    step = (np.isin(arr, (ord("["), ord("{"))).astype(np.int64) - np.isin(arr, (ord("]"), ord("}"))))
    return int(np.cumsum(step).max(initial=0))


def parse_header(text: str | bytes, source: Any = "<header>") -> Any:
    """``json.loads`` with caps on size and nesting depth; every failure is a ``BadFileError`` naming ``source``."""
    if len(text) > MAX_HEADER_BYTES:
        raise BadFileError(f"{source}: header is {len(text)} bytes, more than the {MAX_HEADER_BYTES} allowed")
    try:
        depth = json_depth(text)
    except Exception as e:
        raise BadFileError(f"{source}: header is not JSON text: {e}") from None
    if depth > MAX_DEPTH:
        raise BadFileError(f"{source}: header nests {depth} levels deep, more than the {MAX_DEPTH} allowed")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadFileError(f"{source}: header is not valid JSON: {e}") from None


# --- nested structures <-> (JSON skeleton, named tensors) ---------------------------------------

def flatten(obj: Any, prefix: str = "") -> tuple[Any, dict[str, Tensor]]:
    """Split ``obj`` into a JSON-able skeleton and a flat ``{name: tensor}`` dict."""
    tensors: dict[str, Tensor] = {}

    def enc(o: Any, key: str) -> Any:
        if isinstance(o, Tensor):
            tensors[key] = o.detach()
            return {"__tensor__": key}
        if isinstance(o, np.ndarray):
            tensors[key] = torch.from_numpy(np.ascontiguousarray(o))
            return {"__ndarray__": key}
        if isinstance(o, (bool, int, str)) or o is None:
            return o
        if isinstance(o, float):
            return o if math.isfinite(o) else {"__float__": repr(o)}
        if isinstance(o, np.generic):
            return enc(o.item(), key)
        if isinstance(o, torch.dtype):
            return {"__dtype__": str(o).removeprefix("torch.")}
        if isinstance(o, tuple):
            return {"__tuple__": [enc(v, f"{key}.{i}") for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [enc(v, f"{key}.{i}") for i, v in enumerate(o)]
        if isinstance(o, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in o):
                return {k: enc(v, f"{key}.{k}" if key else k) for k, v in o.items()}
            items = []
            for i, (k, v) in enumerate(o.items()):
                items.append([enc(k, f"{key}.k{i}"), enc(v, f"{key}.v{i}")])
            return {"__items__": items}
        where = key or "<root>"
        raise TypeError(f"cannot save {type(o).__module__}.{type(o).__qualname__} at {where!r}: only tensors, "
                        "numbers, strings, lists, tuples and dicts are stored (torchloom never pickles)")

    return enc(obj, prefix), tensors


def unflatten(skel: Any, tensors: dict[str, Tensor]) -> Any:
    """Inverse of ``flatten``."""
    if isinstance(skel, list):
        return [unflatten(v, tensors) for v in skel]
    if isinstance(skel, dict):
        if "__tensor__" in skel:
            return tensors[skel["__tensor__"]]
        if "__ndarray__" in skel:
            return tensors[skel["__ndarray__"]].numpy()
        if "__float__" in skel:
            return float(skel["__float__"])
        if "__dtype__" in skel:
            dt = getattr(torch, skel["__dtype__"], None)
            if not isinstance(dt, torch.dtype):
                raise ValueError(f"unknown dtype {skel['__dtype__']!r} in file")
            return dt
        if "__tuple__" in skel:
            return tuple(unflatten(v, tensors) for v in skel["__tuple__"])
        if "__items__" in skel:
            return {_hashable(unflatten(k, tensors)): unflatten(v, tensors) for k, v in skel["__items__"]}
        return {k: unflatten(v, tensors) for k, v in skel.items()}
    return skel


def _hashable(k: Any) -> Any:
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k


# --- files --------------------------------------------------------------------------------------

_PICKLE_HINT = ("torchloom never unpickles files (unpickling can run arbitrary code). If you trust it, "
                "load it yourself with torch.load(path, weights_only=True) and re-save with torchloom.")


def check_safe_file(path: str | os.PathLike) -> None:
    """Raise ``UnsafeFileError`` naming ``path`` unless it is a safetensors file; reads only bytes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9:
        (n,) = struct.unpack("<Q", head[:8])
        if n + 8 <= size and head[8:9] == b"{":
            if n > MAX_HEADER_BYTES:
                raise BadFileError(f"{path}: header is {n} bytes, more than the {MAX_HEADER_BYTES} allowed")
            return
    if head[:2] == b"PK":
        raise UnsafeFileError(f"{path} is a zip archive (a torch.save checkpoint?), not a torchloom "
                              f"safetensors file: refused. {_PICKLE_HINT}")
    if head[:1] == b"\x80":
        raise UnsafeFileError(f"{path} is a pickle, not a torchloom safetensors file: refused. {_PICKLE_HINT}")
    raise UnsafeFileError(f"{path} is not a safetensors file ({size} bytes, bad header): refused. "
                          f"{_PICKLE_HINT}")


def save_file(path: str | os.PathLike, obj: Any, meta: dict[str, Any] | None = None) -> Path:
    """Atomically write ``obj`` (nested tensors/JSON values) and ``meta`` (JSON) to one safetensors file.

    In a distributed job every rank calls this and only rank 0 writes; all ranks then wait at a
    barrier, so none goes on to read the file before it is complete.
    """
    if is_distributed():
        if is_main_process():
            _write(path, obj, meta)
        barrier()
        return Path(path)
    return _write(path, obj, meta)


def _write(path: str | os.PathLike, obj: Any, meta: dict[str, Any] | None) -> Path:
    skel, tensors = flatten(obj)
    doc = {"format": FORMAT, "meta": meta or {}, "skeleton": skel}
    out, seen = {}, set()
    for k, t in tensors.items():
        t = t.detach().cpu()
        ptr = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if ptr in seen or not t.is_contiguous() or t.storage_offset() or t.untyped_storage().nbytes() != \
                t.numel() * t.element_size():
            t = t.clone(memory_format=torch.contiguous_format)
        seen.add(ptr)
        out[k] = t
    data = st_save(out, metadata={_META_KEY: json.dumps(doc)})
    path = Path(path)
    with atomic_write(path, "wb") as f:
        f.write(data)
    return path


def load_file(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Any, dict[str, Any]]:
    """Read a file written by ``save_file``: ``(obj, meta)``. Pickles and foreign files are refused;
    a truncated or malformed file is a ``BadFileError`` naming the file and what is wrong."""
    check_safe_file(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            header = (f.metadata() or {}).get(_META_KEY)
            if header is None:
                raise UnsafeFileError(f"{path} is a safetensors file but not one written by torchloom "
                                      "(no torchloom metadata); load its tensors with safetensors directly")
            doc = parse_header(header, path)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (UnsafeFileError, BadFileError):
        raise
    except Exception as e:  # safetensors' own errors: truncated data, bad header, non-UTF-8 text
        raise BadFileError(f"{path}: cannot read the file ({type(e).__name__}: {e})") from None
    if not isinstance(doc, dict) or not str(doc.get("format", "")).startswith("torchloom/"):
        fmt = doc.get("format") if isinstance(doc, dict) else None
        raise UnsafeFileError(f"{path}: unknown format {fmt!r}")
    if "skeleton" not in doc:
        raise BadFileError(f"{path}: header has no 'skeleton' field")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise BadFileError(f"{path}: header field 'meta' must be an object, got {type(meta).__name__}")
    try:
        obj = unflatten(doc["skeleton"], tensors)
    except KeyError as e:
        raise BadFileError(f"{path}: skeleton names tensor {e.args[0]!r}, which the file does not hold") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise BadFileError(f"{path}: malformed skeleton: {e}") from None
    return obj, meta


# --- rebuilding models from a spec --------------------------------------------------------------

def resolve_factory(target: str, source: Any = None, field: str | None = "model_spec.factory"
                    ) -> Callable[..., nn.Module]:
    """The ``nn.Module`` subclass or ``@model_factory`` function ``target`` names (see ``_targets``)."""
    return import_target(target, MODEL, source=source, field=field)


def factory_target(obj: Any) -> str:
    """``module:QualName`` of a class or function (for ``model_spec``)."""
    return target_of(obj)
