"""``learn.export(path, format="onnx" | "torch.export")``: a model file any runtime can load, plus its JSON.

The graph is traced from a copy of the model on the CPU in eval mode, on a real batch of the
validation data, with a dynamic batch dimension; the loss function's activation (softmax for
cross-entropy) is part of the graph, so the output is what ``learn.predict`` reports as
probabilities. The JSON (see ``spec.py``) holds the rest of ``predict``: the installed reader's
description of the preprocessing and the class names.
"""
from __future__ import annotations

import contextlib
import copy
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchloom._deploy.spec import SUFFIX, write_spec

__all__ = ["FORMATS", "export", "export_portable"]

FORMATS = tuple(SUFFIX)
_ACTIVATIONS = {"CrossEntropyLossFlat": ("softmax", "argmax"), "BCEWithLogitsLossFlat": ("sigmoid", "threshold")}


class _WithActivation(nn.Module):
    """The model followed by the loss function's activation (what ``get_preds`` applies)."""

    def __init__(self, model: nn.Module, act: Any) -> None:
        super().__init__()
        self.model, self.act = model, act

    def forward(self, *xs: torch.Tensor) -> Any:
        out = self.model(*xs)
        return out if self.act is None else self.act(out)


def _target_path(learn: Any, fname: str | os.PathLike, fmt: str) -> Path:
    path = Path(fname)
    if not path.is_absolute():
        path = Path(learn.path) / path
    return path if path.suffix == SUFFIX[fmt] else path.with_name(path.name + SUFFIX[fmt])


def _example_inputs(learn: Any) -> tuple[torch.Tensor, ...]:
    """The inputs of one real validation batch, as plain CPU tensors (at least two rows, so the batch
    dimension stays dynamic when traced)."""
    from torchloom._tensors import to_plain

    dls = learn.dls
    dl = getattr(dls, "valid", None)
    if dl is None or not len(getattr(dl, "dataset", ()) or ()):
        dl = dls.train
    b = dl.one_batch()
    n_inp = getattr(dls, "n_inp", 1) or 1
    xs = tuple(to_plain(x).detach().cpu() for x in (b[:n_inp] if isinstance(b, (tuple, list)) else (b,)))
    if xs[0].shape[0] < 2:
        xs = tuple(torch.cat([x, x]) for x in xs)
    return xs


def _classes(dls: Any) -> list[str] | None:
    try:
        vocab = dls.vocab
    except AttributeError:
        return None
    if vocab is None:
        return None
    vocab = list(vocab)
    if vocab and isinstance(vocab[0], (list, tuple)):
        vocab = list(vocab[-1])
    return [str(v) for v in vocab]


def _output_info(loss_func: Any) -> dict[str, Any]:
    act = getattr(loss_func, "activation", None)
    name = type(loss_func).__name__
    activation, decodes = _ACTIVATIONS.get(name, (None if act is None else name, None))
    info: dict[str, Any] = {"activation": activation, "decodes": decodes, "axis": int(getattr(loss_func, "axis", -1))}
    if decodes == "threshold":
        info["threshold"] = float(getattr(loss_func, "thresh", 0.5))
    return info


def _dynamic_axes(entry: Any, xs: tuple[torch.Tensor, ...]) -> list[dict[int, Any]]:
    """Per input: the batch axis, plus the axes the reader declares variable (``dynamic_axes = {1: "seq"}``,
    e.g. a text reader's sequence length)."""
    extra = dict(getattr(entry.load(), "dynamic_axes", {}) or {}) if entry is not None else {}
    dims = {name: torch.export.Dim(name, min=1) for name in extra.values()}
    batch = torch.export.Dim("batch", min=1)
    return [{0: batch, **{int(a): dims[n] for a, n in extra.items() if int(a) < x.ndim}} for x in xs]


def _save_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def export_portable(learn: Any, fname: str | os.PathLike, format: str) -> Path:
    """Write ``fname.onnx`` or ``fname.pt2`` and its ``.json``; returns the model file's path."""
    from torchloom._deploy.readers import describe_data
    from torchloom._version import PLUGIN_API, __version__

    if format not in SUFFIX:
        raise ValueError(f"unknown export format {format!r}; formats are 'safetensors', {', '.join(map(repr, SUFFIX))}")
    if format == "onnx":
        try:
            import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
        except ImportError:
            raise ImportError("format='onnx' needs torch's ONNX exporter dependencies: pip install onnx onnxscript "
                              "(or pip install 'torchloom[onnx]')") from None
    entry, desc = describe_data(learn.dls)  # before writing anything: a data it cannot describe is an error
    path = _target_path(learn, fname, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    xs = _example_inputs(learn)
    names = ["input"] if len(xs) == 1 else [f"input{i}" for i in range(len(xs))]
    model = copy.deepcopy(learn.model).cpu().eval().to(memory_format=torch.contiguous_format)
    wrapper = _WithActivation(model, getattr(learn.loss_func, "activation", None)).eval()
    dyn = _dynamic_axes(entry, xs)
    with torch.no_grad():
        ep = torch.export.export(wrapper, xs, dynamic_shapes=(tuple(dyn),))
    if format == "torch.export":
        _save_atomic(path, lambda p: torch.export.save(ep, p))
    else:
        prog = torch.onnx.export(ep, xs, input_names=names, output_names=["output"], dynamo=True,
                                 external_data=False, verbose=False)
        _save_atomic(path, lambda p: prog.save(str(p)))
    spec = {
        "format": format, "torchloom": __version__, "plugin_api": PLUGIN_API, "torch": torch.__version__,
        "input_names": names,
        "inputs": [{"name": n, "shape": [None if i in d else int(s) for i, s in enumerate(x.shape)],
                    "dtype": str(x.dtype).removeprefix("torch.")} for n, x, d in zip(names, xs, dyn)],
        "output": _output_info(learn.loss_func),
        "classes": _classes(learn.dls),
        "reader": None if entry is None else {"name": entry.name, "dist": entry.dist, "version": entry.version,
                                              "preprocess": desc},
        "plugins": dict(getattr(learn, "plugins_used", {}) or {}),
    }
    write_spec(path, spec)
    return path


def export(learn: Any, fname: str | os.PathLike = "export", format: str = "safetensors") -> Path:
    """``Learner.export``: the safetensors export ``load_learner`` reads (default), or with
    ``format="onnx"`` / ``"torch.export"`` a portable model file plus a JSON of its preprocessing, for
    runtimes without torchloom (``load_exported``, ``torchloom predict``)."""
    if format == "safetensors":
        from torchloom._persist.learner_io import export as export_safetensors

        return export_safetensors(learn, fname)
    return export_portable(learn, fname, format)
