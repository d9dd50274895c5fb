"""Learner save/load, checkpoints with exact resume, and export / ``load_learner`` -- all without pickle.

* ``learn.save(name)`` -> ``path/model_dir/name.safetensors``: model weights (+ optimizer state).
* ``learn.save_checkpoint(name, epoch)``: weights, optimizer, every callback's ``state_dict`` under its
  unique name, the loop position, RNG states and the active plugins; ``learn.fit(..., resume=name)``
  calls ``load_checkpoint`` and continues at the next epoch.
* ``learn.export()`` / ``load_learner(path)``: weights plus a declarative spec (model factory, loss,
  data pipeline, plugins) rebuilt only from classes and marked factories, never from pickles.
"""
from __future__ import annotations

import inspect
import os
import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from torchloom._persist.safe import BadFileError, flatten, load_file, resolve_factory, save_file
from torchloom._targets import LOSS_FUNC, LOSS_INSTANCE, TRANSFORM, check_kwargs, import_target, target_of
from torchloom._unwrap import clean_state_dict, unwrap_model
from torchloom._version import __version__
from torchloom.callbacks._base import Callback
from torchloom.data._dataloaders import DataLoaders
from torchloom.data._spec import dataloaders_spec

if TYPE_CHECKING:
    from torchloom._learner import Learner

__all__ = ["MissingPluginError", "export", "load", "load_checkpoint", "save", "save_checkpoint"]

EXT = ".safetensors"


class MissingPluginError(ImportError):
    """A file was written with a plugin that is not installed here."""


# --- helpers ------------------------------------------------------------------------------------

def _file(base: Path, name: str | os.PathLike) -> Path:
    """Relative names live in ``base``; ``.safetensors`` is appended unless the file exists as named."""
    p = Path(name)
    if not p.is_absolute():
        p = base / p
    return p if p.suffix == EXT or p.is_file() else p.with_name(p.name + EXT)


def rng_states() -> dict[str, Any]:
    """The state of every random generator a training run draws from."""
    st: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                          "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_states(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _dl_rng(dl: Any) -> dict[str, Any] | None:
    """A DataLoader's own shuffling state (its ``state_dict()``, or its generator and epoch counter)."""
    if dl is None:
        return None
    if callable(getattr(dl, "state_dict", None)) and callable(getattr(dl, "load_state_dict", None)):
        return {"state_dict": dl.state_dict()}
    out: dict[str, Any] = {}
    for attr in ("rng", "generator", "_generator", "_gen"):
        g = getattr(dl, attr, None)
        if isinstance(g, torch.Generator):
            out["gen"] = {"kind": "torch", "attr": attr, "state": g.get_state()}
        elif isinstance(g, np.random.Generator):
            out["gen"] = {"kind": "numpy", "attr": attr, "state": g.bit_generator.state}
        elif isinstance(g, random.Random):
            out["gen"] = {"kind": "python", "attr": attr, "state": g.getstate()}
        if "gen" in out:
            break
    if isinstance(getattr(dl, "_epoch", None), int):  # seeded loaders reshuffle with seed + epoch
        out["_epoch"] = dl._epoch
    return out or None


def _set_dl_rng(dl: Any, st: dict[str, Any] | None) -> None:
    if not st or dl is None:
        return
    if "state_dict" in st:
        dl.load_state_dict(st["state_dict"])
        return
    if "_epoch" in st:
        dl._epoch = st["_epoch"]
    gen = st.get("gen")
    if not gen:
        return
    g = getattr(dl, gen["attr"], None)
    if gen["kind"] == "torch" and isinstance(g, torch.Generator):
        g.set_state(gen["state"])
    elif gen["kind"] == "numpy" and isinstance(g, np.random.Generator):
        g.bit_generator.state = gen["state"]
    elif gen["kind"] == "python" and isinstance(g, random.Random):
        g.setstate(gen["state"])


def _unique_names(cbs: list[Callback]) -> dict[str, Callback]:
    """Each callback under its name; a second one with the same name gets ``name_1`` and so on."""
    out: dict[str, Callback] = {}
    for cb in cbs:
        name, i = cb.name, 1
        while name in out:
            name, i = f"{cb.name}_{i}", i + 1
        out[name] = cb
    return out


def check_plugins(plugins: dict[str, dict[str, Any]], source: str | os.PathLike) -> None:
    """Every plugin a file names must be installed here; the error names the plugin and distribution."""
    if not plugins:
        return
    from torchloom._plugins.manager import get_registry

    reg = get_registry()
    for name, info in plugins.items():
        kind = info.get("kind", "callback")
        try:
            e = reg.entry(kind, name)
        except Exception as err:
            dist, ver = info.get("dist", "?"), info.get("version", "?")
            raise MissingPluginError(
                f"{source} was written with plugin {name!r} ({kind}) from distribution {dist} {ver}, which is not "
                f"installed here: pip install {dist}") from err
        if info.get("version") and e.version and str(e.version) != str(info["version"]):
            warnings.warn(f"{source} was written with {name!r} from {info.get('dist')} {info['version']}; "
                          f"installed is {e.dist} {e.version}", RuntimeWarning, stacklevel=3)


class _ResumeState(Callback):
    """Applies a checkpoint's callback states and RNG states at the start of the resumed fit.

    Callbacks passed to ``fit(cbs=...)`` are attached only after ``load_checkpoint`` runs, so their
    states are applied in ``before_fit``; RNG states are restored right before the first resumed
    epoch, where the checkpoint captured them."""

    order = -5
    after = ("train_eval",)

    def __init__(self, cb_states: dict[str, Any], rng: dict[str, Any] | None, dl_rng: dict[str, Any],
                 n_epoch: int | None = None):
        super().__init__()
        self.name = "resume_state"
        self.cb_states, self.rng, self.dl_rng, self.saved_n_epoch = cb_states, rng, dl_rng, n_epoch

    def before_fit(self) -> None:
        if self.saved_n_epoch is not None and self.learn.n_epoch != self.saved_n_epoch:
            warnings.warn(f"resuming a run of {self.saved_n_epoch} epochs with n_epoch={self.learn.n_epoch}: "
                          "schedules will not match the interrupted run", RuntimeWarning, stacklevel=2)
        for name, cb in _unique_names([c for c in self.learn.cbs if c is not self]).items():
            if name in self.cb_states:
                cb.load_state_dict(self.cb_states.pop(name))

    def before_epoch(self) -> None:
        if self.rng is not None:
            set_rng_states(self.rng)
            for attr, st in self.dl_rng.items():
                _set_dl_rng(getattr(self.learn.dls, attr, None), st)
            self.rng = None

    def after_fit(self) -> None:
        self.learn.remove_cb(self)

    def cleanup_fit(self) -> None:  # the fit was interrupted: leave no residue either
        if self.learn is not None:
            self.learn.remove_cb(self)


# --- export / load_learner helpers ---------------------------------------------------------------

def _target(obj: Any) -> str:
    return target_of(obj)


def _storable(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str, type(None), Tensor)) or (
        isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v))


def _init_attrs(obj: Any, skip_defaults: bool = False) -> dict[str, Any]:
    """Attributes of ``obj`` named like its ``__init__`` arguments (optionally only non-default ones)."""
    cfg: dict[str, Any] = {}
    try:
        params = inspect.signature(type(obj).__init__).parameters
    except (TypeError, ValueError):
        return cfg
    for name, p in params.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or not hasattr(obj, name):
            continue
        v = getattr(obj, name)
        if not _storable(v):
            continue
        if skip_defaults and not isinstance(v, Tensor) and p.default is not p.empty and v == p.default:
            continue
        cfg[name] = v
    return cfg


def _obj_config(obj: Any) -> dict[str, Any]:
    """Constructor kwargs of ``obj``: its ``get_config()``, else attributes named like ``__init__`` args
    (plus the non-default settings of a wrapped ``obj.func`` module, as fastai-style losses hold one)."""
    if hasattr(obj, "get_config"):
        return dict(obj.get_config())
    cfg = _init_attrs(obj)
    inner = getattr(obj, "func", None)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(type(obj).__init__).parameters.values())
    if isinstance(inner, nn.Module) and takes_kwargs:
        for k, v in _init_attrs(inner, skip_defaults=True).items():
            cfg.setdefault(k, v)
    return cfg


def _resolve_loss(spec: dict[str, Any], source: Any = None) -> Any:
    """Rebuild the loss: an allowed loss class instantiated with its stored config, or an allowed loss function."""
    target = spec.get("target")
    if spec.get("instance"):
        cls = import_target(target, LOSS_INSTANCE, source=source, field="loss.target")
        config = check_kwargs(cls, spec.get("config", {}), what="loss", source=source, field="loss.config",
                              tensors=True)
        try:
            return cls(**config)
        except (TypeError, ValueError) as e:
            raise BadFileError(f"{source}: loss.config: arguments do not match {cls.__qualname__}: {e}") from e
    return import_target(target, LOSS_FUNC, source=source, field="loss.target")


def _resolve_transform(target: str, source: Any = None) -> Any:
    """Resolver handed to ``dataloaders_from_spec``: a registered transform name or a Transform subclass."""
    return import_target(target, TRANSFORM, source=source, field="dls transform target")


def _need(d: Any, key: str, typ: type | tuple[type, ...], source: Any, field: str) -> Any:
    """``d[key]`` checked to be a ``typ``; a ``BadFileError`` naming the file and field otherwise."""
    if not isinstance(d, dict) or key not in d:
        raise BadFileError(f"{source}: missing field {field!r}")
    v = d[key]
    if not isinstance(v, typ):
        raise BadFileError(f"{source}: field {field!r} has the wrong type ({type(v).__name__})")
    return v


def _opt_signature(sd: Any) -> tuple[str, list[list[str]]]:
    """(format, hyper-parameter names per group) of an optimizer ``state_dict``, to tell optimizers apart."""
    if not isinstance(sd, dict):
        return type(sd).__name__, []
    if "torch" in sd and isinstance(sd["torch"], dict):
        groups = sd["torch"].get("param_groups", [])
        return "torch.optim", [sorted(k for k in g if k != "params") for g in groups if isinstance(g, dict)]
    fmt = "lookahead" if "lookahead_count" in sd else "torchloom"
    return fmt, [sorted(h) for h in sd.get("hypers", []) if isinstance(h, dict)]


def load_opt_state(opt: Any, sd: Any, source: Any) -> None:
    """Load optimizer state saved in ``source`` into ``opt``, refusing state of another optimizer (an SGD
    file into Adam would otherwise fail only at the next step)."""
    mine, theirs = _opt_signature(opt.state_dict()), _opt_signature(sd)
    if mine != theirs:
        raise BadFileError(f"{source}: the optimizer state was saved by a different optimizer ({theirs[0]} with "
                           f"hyper-parameters {theirs[1]}) than this Learner's ({mine[0]} with {mine[1]}); "
                           "load only the weights with with_opt=False, or use the same opt_func")
    try:
        opt.load_state_dict(sd)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise BadFileError(f"{source}: cannot load the optimizer state: {type(e).__name__}: {e}") from e


def load_weights(model: nn.Module, weights: Any, source: Any, strict: bool = True) -> None:
    """``model.load_state_dict`` whose errors name the file."""
    if not isinstance(weights, dict):
        raise BadFileError(f"{source}: field 'model' must hold the weights, got {type(weights).__name__}")
    try:  # into the plain module (not a DDP wrapper), from keys without compile's ``_orig_mod.``
        unwrap_model(model).load_state_dict(clean_state_dict(weights), strict=strict)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise BadFileError(f"{source}: the stored weights do not fit this model: {e}") from e


# --- the Learner's save / load / checkpoint / export (its methods delegate here) ----------------------------------------------------------------------------------


def _model_file(learn: Learner, name: str | os.PathLike) -> Path:
    return _file(Path(learn.path) / learn.model_dir, name)

def save(learn: Learner, file: str | os.PathLike, with_opt: bool = True) -> Path:
    """Write the model weights (and optimizer state) to ``path/model_dir/file.safetensors``, atomically."""
    obj: dict[str, Any] = {"model": unwrap_model(learn.model).state_dict()}
    if with_opt and learn.opt is not None:
        obj["opt"] = learn.opt.state_dict()
    return save_file(_model_file(learn, file), obj, meta={"kind": "weights", "torchloom": __version__})

def load(learn: Learner, file: str | os.PathLike, device: Any = None, with_opt: bool = True,
         strict: bool = True) -> Any:
    """Load what ``save`` wrote; refuses pickles. Returns the learner."""
    path = _model_file(learn, file)
    obj, meta = load_file(path)
    if "model" not in obj:
        raise ValueError(f"{path} holds no model weights (it is a {meta.get('kind', 'unknown')!r} file)")
    load_weights(learn.model, obj["model"], path, strict=strict)
    if device is not None:
        learn.model.to(device)
    if with_opt:
        if "opt" in obj:
            if learn.opt is None:
                learn.create_opt()
            load_opt_state(learn.opt, obj["opt"], path)
        else:
            warnings.warn(f"{path} holds no optimizer state; only the model was loaded", UserWarning,
                          stacklevel=2)
    return learn

# -- checkpoints -----------------------------------------------------------------------------
def save_checkpoint(learn: Learner, file: str | os.PathLike = "checkpoint", epoch: int | None = None) -> Path:
    """Everything needed to continue training after ``epoch`` (default: the current one) exactly."""
    epoch = learn.epoch if epoch is None else epoch
    cbs = {n: cb.state_dict() for n, cb in _unique_names(list(learn.cbs)).items()
           if n != "resume_state"}
    dl_rng = {a: _dl_rng(getattr(learn.dls, a, None)) for a in ("train", "valid")}
    obj = {
        "model": unwrap_model(learn.model).state_dict(),
        "opt": learn.opt.state_dict() if learn.opt is not None else None,
        "cbs": {n: s for n, s in cbs.items() if s},
        "rng": rng_states(),
        "dl_rng": {a: s for a, s in dl_rng.items() if s},
        "pos": {"epoch": int(epoch), "n_epoch": int(learn.n_epoch), "train_iter": int(learn.train_iter)},
    }
    meta = {"kind": "checkpoint", "epoch": int(epoch), "torchloom": __version__,
            "plugins": dict(getattr(learn, "plugins_used", {}) or {})}
    return save_file(_model_file(learn, file), obj, meta=meta)

def load_checkpoint(learn: Learner, file: str | os.PathLike) -> int:
    """Restore a checkpoint; returns the epoch to start from (the one after the saved epoch)."""
    path = _model_file(learn, file)
    obj, meta = load_file(path)
    if meta.get("kind") != "checkpoint":
        raise ValueError(f"{path} is a {meta.get('kind', 'unknown')!r} file, not a checkpoint "
                         "(write one with the Checkpoint callback or learn.save_checkpoint)")
    check_plugins(meta.get("plugins", {}), path)
    active = set(getattr(learn, "plugins_used", {}) or {})
    missing = [n for n in meta.get("plugins", {}) if n not in active]
    if missing:
        warnings.warn(f"{path} was written with plugins {missing} active, which are not active on this "
                      "Learner; the resumed run will differ (switch them on with learn.use)", RuntimeWarning,
                      stacklevel=2)
    load_weights(learn.model, _need(obj, "model", dict, path, "model"), path)
    if obj.get("opt") is not None:
        if learn.opt is None:
            learn.create_opt()
        load_opt_state(learn.opt, obj["opt"], path)
    pos = _need(obj, "pos", dict, path, "pos")
    for k in ("epoch", "n_epoch", "train_iter"):
        _need(pos, k, int, path, f"pos.{k}")
    _need(obj, "rng", dict, path, "rng")
    learn.epoch, learn.train_iter = pos["epoch"], pos["train_iter"]
    states = dict(obj.get("cbs", {}))
    for name, cb in _unique_names(list(learn.cbs)).items():
        if name in states:
            cb.load_state_dict(states.pop(name))
    for cb in [c for c in learn.cbs if isinstance(c, _ResumeState)]:
        learn.remove_cb(cb)
    set_rng_states(obj["rng"])
    learn.add_cb(_ResumeState(states, obj["rng"], obj.get("dl_rng", {}), pos.get("n_epoch")))
    learn.resumed_from = {"path": str(path), "epoch": pos["epoch"], "n_epoch": pos["n_epoch"]}
    return int(pos["epoch"]) + 1

# -- export ----------------------------------------------------------------------------------
def memory_format_of(model: nn.Module) -> str | None:
    """``"channels_last"`` when the model's 4-d weights are stored channels-last, else None.

    The first 4-d parameter whose two layouts differ decides (a 1x1 convolution is both)."""
    for p in model.parameters():
        if p.dim() == 4 and p.is_contiguous() != p.is_contiguous(memory_format=torch.channels_last):
            return "channels_last" if p.is_contiguous(memory_format=torch.channels_last) else None
    return None


def export(learn: Learner, fname: str | os.PathLike = "export") -> Path:
    """Write a learn-describing inference artifact: weights + model/loss/data specs + plugin versions."""
    spec = learn.model_spec
    if not spec or "factory" not in spec:
        raise ValueError("learn.export needs learn.model_spec = {'factory': 'module:callable', 'kwargs': {...}} "
                         "naming an nn.Module subclass or an @torchloom.model_factory function that rebuilds "
                         "the model (pass model_spec=... to Learner)")
    resolve_factory(spec["factory"])  # fail now, not at load time
    lf = learn.loss_func
    if isinstance(lf, type) or not callable(lf):
        raise TypeError(f"cannot export loss_func {lf!r}")
    is_fn = inspect.isfunction(lf) or inspect.isbuiltin(lf)
    loss = {"target": _target(lf), "instance": not is_fn, "config": {} if is_fn else _obj_config(lf)}
    # fail now, not at load time: the loss must be one load_learner will rebuild
    import_target(loss["target"], LOSS_INSTANCE if loss["instance"] else LOSS_FUNC, field="loss_func")
    dls_spec, dls_tensors = None, {}
    if isinstance(learn.dls, DataLoaders):
        dls_spec, dls_tensors = dataloaders_spec(learn.dls)
    else:
        warnings.warn(f"the data ({type(learn.dls).__name__}) are not torchloom DataLoaders (no get_spec): the "
                      "export holds no data pipeline, so "
                      "load_learner returns a Learner without DataLoaders (predict on tensors only)",
                      UserWarning, stacklevel=2)
    opt_func = learn.opt_func if isinstance(learn.opt_func, str) else None
    model = unwrap_model(learn.model)
    obj = {"model": model.state_dict(), "dls": dls_tensors, "loss": loss["config"]}
    flatten(loss["config"])  # fails early, naming the item, if the loss config is not storable
    meta = {"kind": "export", "torchloom": __version__, "model_spec": spec,
            "memory_format": memory_format_of(model) if isinstance(model, nn.Module) else None,
            "loss": {k: v for k, v in loss.items() if k != "config"}, "dls": dls_spec, "opt_func": opt_func,
            "plugins": dict(getattr(learn, "plugins_used", {}) or {})}
    path = Path(fname)
    if not path.is_absolute():
        path = Path(learn.path) / path
    if path.suffix != EXT:
        path = path.with_name(path.name + EXT)
    return save_file(path, obj, meta=meta)
