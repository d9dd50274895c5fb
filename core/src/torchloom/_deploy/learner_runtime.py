"""The default safetensors export as a runnable model for ``torchloom predict`` and ``load_exported``.

``load_learner`` rebuilds the learner (nothing is unpickled); its inputs are read by the reader a portable
export of the same learner would name (the installed reader whose ``describe`` recognises its
DataLoaders), and its outputs go through the loss function's activation, as ``get_preds`` does.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from torchloom._deploy.spec import InvalidExportError

__all__ = ["open_safetensors_export"]


def open_safetensors_export(path: str | os.PathLike
                            ) -> tuple[dict[str, Any], Callable[[tuple[np.ndarray, ...]], list[np.ndarray]], list[str]]:
    """``learn.export()``'s file as what ``ExportedModel`` wraps: its description (output decoding, classes,
    the data's reader), a function from input arrays to output arrays (probabilities) and the input names."""
    import torch

    from torchloom._deploy.export import _classes, _output_info, _WithActivation
    from torchloom._deploy.readers import describe_data
    from torchloom._persist.load_learner import load_learner

    path = Path(path)
    learn = load_learner(path)
    if learn.dls is None:
        raise InvalidExportError(f"{path} was exported without its DataLoaders, so how to read its inputs is "
                                 "unknown: export it with its data, or as format='onnx' | 'torch.export'")
    entry, desc = describe_data(learn.dls)
    if entry is None:
        raise InvalidExportError(f"{path}: no installed plugin registers a reader for its data "
                                 f"({type(learn.dls.valid).__name__}); feed learn.get_preds yourself")
    n_inp = getattr(learn.dls, "n_inp", 1) or 1
    names = ["input"] if n_inp == 1 else [f"input{i}" for i in range(n_inp)]
    spec: dict[str, Any] = {
        "format": "safetensors", "input_names": names, "output": _output_info(learn.loss_func),
        "classes": _classes(learn.dls),
        "reader": {"name": entry.name, "dist": entry.dist, "version": entry.version, "preprocess": desc},
    }
    model = _WithActivation(learn.model.cpu().eval(), getattr(learn.loss_func, "activation", None)).eval()

    def run(inputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        with torch.inference_mode():
            out = model(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [torch.as_tensor(o).detach().cpu().numpy() for o in outs]

    return spec, run, names
