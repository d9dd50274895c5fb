"""Export specs of ``DataLoaders``: a JSON-able description of the transforms and loader settings, and
rebuilding empty loaders from one (what ``Learner.export`` / ``load_learner`` keep of the data).

It sits above both ``Datasets`` and ``DataLoaders`` because rebuilding creates both.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from torchloom._targets import TRANSFORM, TYPE, TargetError, check_kwargs, import_target
from torchloom._transform import Pipeline, Transform
from torchloom.data._dataloader import DataLoader
from torchloom.data._dataloaders import DataLoaders
from torchloom.data._lists import Datasets, TfmdLists

__all__ = ["dataloaders_from_spec", "dataloaders_spec", "transform_from_spec", "transform_spec"]

SPEC_VERSION = 1


def dataloaders_spec(dls: DataLoaders) -> tuple[dict, dict[str, Tensor]]:
    """A JSON-able description of the transforms and settings, plus the tensors of their state."""
    tensors: dict[str, Tensor] = {}
    ds = dls.train_ds
    if not isinstance(ds, Datasets):
        raise TypeError(f"get_spec needs Datasets-based loaders, got a {type(ds).__name__}")
    spec: dict[str, Any] = {
        "version": SPEC_VERSION, "n_inp": ds.n_inp, "path": str(dls.path),
        "tls": [[transform_spec(t, f"tls.{i}.{j}", tensors) for j, t in enumerate(tl.tfms.fs)]
                for i, tl in enumerate(ds.tls)],
        "loaders": [],
    }
    for k, dl in enumerate(dls.loaders):
        if dl._custom_create:
            raise TypeError("get_spec: a DataLoader with a custom create_batch cannot be exported")
        spec["loaders"].append({
            "bs": dl.bs, "shuffle": dl.shuffle, "drop_last": dl.drop_last, "seed": dl.seed,
            "types": [_type_name(t) for t in (dl.types or ())],
            **{h: [transform_spec(t, f"dl.{k}.{h}.{j}", tensors) for j, t in enumerate(getattr(dl, h).fs)]
               for h in ("after_item", "before_batch", "after_batch")}})
    return spec, tensors

def dataloaders_from_spec(spec: dict, tensors: dict[str, Tensor] | None = None,
              resolve: Callable[[str], Any] | None = None) -> DataLoaders:
    """Rebuild empty loaders from ``dataloaders_spec`` output (for ``test_dl``/``decode_batch``/``vocab``).

    Only registered transform names or ``Transform`` subclasses are instantiated.
    """
    tensors = tensors or {}
    if spec.get("version") != SPEC_VERSION:
        raise ValueError(f"unsupported DataLoaders spec version {spec.get('version')!r}")

    def build(lst: list[dict]) -> list[Transform]:
        return [transform_from_spec(d, tensors, resolve) for d in lst]

    tls_tfms = [build(lst) for lst in spec["tls"]]
    loaders = []
    for k, ls in enumerate(spec["loaders"]):
        tls = [type_tl(tf, k) for tf in tls_tfms]
        ds = Datasets(tls=tls, n_inp=spec["n_inp"])
        loaders.append(DataLoader(ds, bs=ls["bs"], shuffle=ls["shuffle"], drop_last=ls["drop_last"],
                                  seed=ls.get("seed"), after_item=build(ls["after_item"]),
                                  before_batch=build(ls["before_batch"]), after_batch=build(ls["after_batch"]),
                                  do_setup=False))
        if ls.get("types"):
            loaders[-1].types = tuple(_resolve_tensor_type(t, f"dls.loaders.{k}.types.{i}")
                                      for i, t in enumerate(ls["types"]))
    return DataLoaders(*loaders, path=spec.get("path", "."))

def type_tl(tfms: list[Transform], split_idx: int) -> Any:
    return TfmdLists([], Pipeline(tfms, split_idx=split_idx), split_idx=split_idx, do_setup=False)


def _type_name(t: type) -> str | None:
    """``module:QualName`` of a tensor type a spec can name (``None`` for other or local types)."""
    if not (isinstance(t, type) and issubclass(t, Tensor)) or "<locals>" in t.__qualname__:
        return None
    return f"{t.__module__}:{t.__qualname__}"


def _resolve_tensor_type(name: str | None, field: str | None = None) -> type | None:
    """A tensor type named in a spec: a ``torch.Tensor`` subclass, resolved by the one target resolver."""
    if not name:
        return None
    return import_target(name, TYPE, field=field)


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _registered_name(obj: Any) -> str | None:
    try:
        from torchloom._plugins.manager import get_registry
    except ImportError:
        return None
    try:
        found = get_registry().find_name_for(type(obj))
    except Exception:
        return None
    return found[1] if found and found[0] == "transform" else None


def transform_spec(t: Transform, key: str, tensors: dict[str, Tensor]) -> dict:
    """``{"target", "config", "state"}`` for ``t``; tensor state goes into ``tensors`` under ``key``."""
    if not isinstance(t, Transform) or "<locals>" in type(t).__qualname__:
        raise TypeError(f"cannot export transform {getattr(t, 'name', t)!r}: only module-level Transform "
                        "subclasses (or registered transforms) can be exported")
    config = t.get_config()
    state = {}
    for k, v in t.state_dict().items():
        if isinstance(v, Tensor):
            tensors[f"{key}.{k}"] = v.detach().cpu().as_subclass(Tensor).contiguous()
            state[k] = {"__tensor__": f"{key}.{k}"}
        else:
            state[k] = v
    return {"target": _registered_name(t) or _qualname(t), "config": config, "state": state}


def _default_resolve(target: str) -> Any:
    return import_target(target, TRANSFORM)


def transform_from_spec(d: dict, tensors: dict[str, Tensor], resolve: Callable[[str], Any] | None = None
                        ) -> Transform:
    """Instantiate a transform from its spec; refuses anything that is not a ``Transform`` subclass."""
    target = d["target"]
    try:
        cls = (resolve or _default_resolve)(target)
    except TargetError:
        raise
    except Exception as e:
        raise ValueError(f"cannot resolve transform {target!r} in the DataLoaders spec: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Transform)):
        raise TypeError(f"refusing to rebuild {target!r}: it is not a Transform subclass")
    t = cls(**check_kwargs(cls, d.get("config", {}), what=f"transform {target!r}", field="dls transform config"))
    state = {k: tensors[v["__tensor__"]] if isinstance(v, dict) and "__tensor__" in v else v
             for k, v in d.get("state", {}).items()}
    if state:
        t.load_state_dict(state)
    return t
