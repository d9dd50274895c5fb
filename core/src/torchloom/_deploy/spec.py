"""The JSON that travels beside a portable export: what the model expects and who can read its inputs.

It is plain JSON so a consumer without torchloom can reproduce ``predict`` (see the README): input
names and shapes, the output activation, class names, and the domain reader's preprocessing
(image size, normalization statistics, vocab...). ``read_spec`` refuses files it cannot trust to
describe the model: unknown layout, a newer plugin API, or a model file whose hash does not match.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torchloom._download import sha256_file

__all__ = ["SPEC_VERSION", "InvalidExportError", "sidecar_path", "write_spec", "read_spec"]

#: Layout version of the sidecar JSON; a reader refuses a larger one.
SPEC_VERSION = 1
SUFFIX = {"onnx": ".onnx", "torch.export": ".pt2"}


class InvalidExportError(ValueError):
    """A portable export that cannot be used here; the message names the file and what to do."""


def sidecar_path(model_file: str | os.PathLike) -> Path:
    """``model.onnx`` -> ``model.onnx.json``."""
    p = Path(model_file)
    return p.with_name(p.name + ".json")


def write_spec(model_file: Path, spec: dict[str, Any]) -> Path:
    """Write ``spec`` (plus the model file's name and hash) beside ``model_file``, atomically."""
    from torchloom._persist.atomic import atomic_write

    doc = {"torchloom_export": SPEC_VERSION, **spec, "model_file": model_file.name,
           "sha256": sha256_file(model_file)}
    out = sidecar_path(model_file)
    with atomic_write(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    return out


def _resolve(path: str | os.PathLike) -> tuple[Path, Path]:
    """(model file, sidecar) for a path naming either of them."""
    p = Path(path)
    if p.suffix == ".json":
        side = p
        model = p.with_name(p.name[: -len(".json")])
    else:
        model, side = p, sidecar_path(p)
    if not side.is_file():
        if not model.exists() and not side.exists():
            raise FileNotFoundError(f"no such export: {p}")
        raise InvalidExportError(f"{model} has no {side.name} beside it: a portable export is the model file plus "
                                 f"the JSON that learn.export(..., format='onnx' | 'torch.export') writes with it")
    return model, side


def read_spec(path: str | os.PathLike, check_hash: bool = True) -> tuple[Path, dict[str, Any]]:
    """``(model_file, spec)`` for an export; ``InvalidExportError`` names the file when it cannot be used."""
    from torchloom._version import PLUGIN_API

    model, side = _resolve(path)
    try:
        spec = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidExportError(f"{side} is not valid JSON ({e}); the export is corrupt: export it again") from None
    if not isinstance(spec, dict) or "torchloom_export" not in spec:
        raise InvalidExportError(f"{side} is not a torchloom export description (no 'torchloom_export' field)")
    version = spec["torchloom_export"]
    if not isinstance(version, int) or version > SPEC_VERSION:
        raise InvalidExportError(f"{side} has export layout {version!r}; this torchloom reads layout {SPEC_VERSION} "
                                 f"or older: upgrade torchloom (pip install -U torchloom)")
    api = spec.get("plugin_api")
    if not isinstance(api, int) or api > PLUGIN_API:
        raise InvalidExportError(f"{side} was written by torchloom {spec.get('torchloom', '?')} for PLUGIN_API "
                                 f"{api!r}, newer than this torchloom's PLUGIN_API {PLUGIN_API}: upgrade torchloom "
                                 f"and its plugins (pip install -U torchloom)")
    fmt = spec.get("format")
    if fmt not in SUFFIX:
        raise InvalidExportError(f"{side}: unknown export format {fmt!r} (known: {', '.join(SUFFIX)})")
    if spec.get("model_file") and Path(spec["model_file"]).name != model.name:
        model = model.with_name(Path(spec["model_file"]).name)
    if not model.is_file():
        raise InvalidExportError(f"{side} describes {model.name}, which is missing: copy it beside {side.name}")
    if check_hash and spec.get("sha256") != sha256_file(model):
        raise InvalidExportError(f"{model} does not match the sha256 recorded in {side.name}: the file is corrupt "
                                 "or was replaced; export it again")
    return model, spec
