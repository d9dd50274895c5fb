"""Refuse ``torch.export`` archives that would make ``torch.export.load`` run code.

``torch.export.load`` unpickles some members (tensor subclasses, custom/opaque objects, legacy ``.pt``
payloads, and sample inputs when ``weights_only`` fails) and can load AOTInductor binaries. Before it
is called, the archive is checked against what ``torch.export.save`` writes for a plain model: only
raw tensor payloads, JSON, and sample inputs that the ``weights_only`` unpickler accepts.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from torchloom._deploy.spec import InvalidExportError

__all__ = ["check_pt2"]

_ALLOWED = re.compile(r"^(archive_format|archive_version|byteorder|\.data/[\w.]+|models/[\w.-]+\.json"
                      r"|data/weights/(weight_\d+|[\w.-]+_weights_config\.json)"
                      r"|data/constants/(tensor_\d+|[\w.-]+_constants_config\.json)"
                      r"|data/sample_inputs/[\w.-]+\.pt|extra/[\w.-]+)$")


def _refuse(path: Path, why: str) -> InvalidExportError:
    return InvalidExportError(f"{path}: refused to load this torch.export archive: {why} (torchloom never "
                              "unpickles or runs code from an export)")


def check_pt2(path: Path) -> None:
    """Raise ``InvalidExportError`` unless ``path`` is a torch.export archive of plain tensors and JSON."""
    import torch

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidExportError(f"{path} is not a torch.export archive ({e}); the file is corrupt") from None
    with zf:
        names = zf.namelist()
        if not names:
            raise InvalidExportError(f"{path} is an empty archive; the file is corrupt")
        for name in names:
            rel = name.split("/", 1)[1] if "/" in name else name
            if not _ALLOWED.match(rel):
                raise _refuse(path, f"unexpected member {name!r}")
            if rel.endswith("_config.json"):
                try:
                    cfg = json.loads(zf.read(name))
                except (ValueError, zipfile.BadZipFile) as e:
                    raise InvalidExportError(f"{path}: member {name!r} is not valid JSON ({e})") from None
                for key, meta in (cfg.get("config") or {}).items():
                    pname = str(meta.get("path_name", ""))
                    if meta.get("use_pickle") or not pname.startswith(("weight_", "tensor_")):
                        raise _refuse(path, f"{key!r} is stored as a pickled object ({pname!r})")
            elif rel.startswith("data/sample_inputs/") and zf.getinfo(name).file_size:
                try:
                    torch.load(io.BytesIO(zf.read(name)), weights_only=True)
                except Exception as e:
                    raise _refuse(path, f"its sample inputs {name!r} are not plain tensors ({type(e).__name__})") \
                        from None
