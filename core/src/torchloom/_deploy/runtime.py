"""Load a portable export and run it: ONNX through ONNX Runtime, ``torch.export`` through torch.

Nothing named in the files is imported or called: the model is a graph (ONNX protobuf or a
checked ``torch.export`` archive), the description is JSON, and the reader is looked up by its
registered name among the installed plugins.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from torchloom._deploy.spec import InvalidExportError, read_spec

__all__ = ["ExportedModel", "load_exported"]


class ExportedModel:
    """A portable export ready to run: ``model(*arrays)`` returns the output arrays (probabilities
    when the learner's loss has an activation), ``model.spec`` is its JSON, ``model.classes`` its labels."""

    def __init__(self, path: Path, spec: dict[str, Any], run: Any, input_names: list[str]) -> None:
        self.path, self.spec, self._run, self.input_names = path, spec, run, input_names

    @property
    def format(self) -> str:
        return str(self.spec["format"])

    @property
    def classes(self) -> list[str] | None:
        return self.spec.get("classes")

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"{self.path.name} takes {len(self.input_names)} input(s) "
                             f"({', '.join(self.input_names)}), got {len(inputs)}")
        return self._run(inputs)

    def reader(self) -> Any:
        """The domain reader named in the export (``MissingPluginError`` names the distribution if absent)."""
        from torchloom._deploy.readers import load_reader

        return load_reader(self.spec, self.path)

    def __repr__(self) -> str:
        return f"ExportedModel({self.path.name!r}, format={self.format!r}, inputs={self.input_names})"


def _onnx(path: Path, spec: dict[str, Any]) -> ExportedModel:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError(f"running the ONNX export {path} needs ONNX Runtime: pip install onnxruntime") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise InvalidExportError(f"{path} is not a loadable ONNX model ({type(e).__name__}: {e}); the file is "
                                 "corrupt: export it again") from None
    names = [i.name for i in sess.get_inputs()]

    def run(inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        return list(sess.run(None, dict(zip(names, inputs))))

    return ExportedModel(path, spec, run, names)


def _torch_export(path: Path, spec: dict[str, Any]) -> ExportedModel:
    import torch

    from torchloom._deploy.pt2check import check_pt2

    check_pt2(path)
    try:
        ep = torch.export.load(path)
    except Exception as e:
        raise InvalidExportError(f"{path} is not a loadable torch.export program ({type(e).__name__}: {e}); the "
                                 "file is corrupt or was written by another torch version: export it again") from None
    module = ep.module()
    names = [str(n) for n in spec.get("input_names") or [f"input{i}" for i in range(len(spec.get("inputs", [1])))]]

    def run(inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        with torch.inference_mode():
            out = module(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.detach().cpu().numpy() for o in outs]

    return ExportedModel(path, spec, run, names)


def load_exported(path: str | os.PathLike, check_hash: bool = True) -> ExportedModel:
    """Open a portable export (the model file or its ``.json``) after checking its description and hash, or the
    default ``.safetensors`` export (rebuilt with ``load_learner``; its data's reader reads the inputs)."""
    if Path(path).suffix == ".safetensors":
        from torchloom._deploy.learner_runtime import open_safetensors_export

        return ExportedModel(Path(path), *open_safetensors_export(path))
    model_file, spec = read_spec(path, check_hash=check_hash)
    return (_onnx if spec["format"] == "onnx" else _torch_export)(model_file, spec)
