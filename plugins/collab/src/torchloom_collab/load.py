"""``load_learner`` for collab exports: a ``CollabLearner`` again, so ``recommend``, ``bias`` and ``pca`` work."""
from __future__ import annotations

import os
from typing import Any

from torchloom_tabular import TabularLearner
from torchloom_tabular import load_learner as load_tabular

from .data import CollabDataLoaders
from .learner import CollabLearner

__all__ = ["load_learner"]


def load_learner(fname: str | os.PathLike, cpu: bool = True) -> Any:
    """``torchloom_tabular.load_learner``, then, for a collab model, a ``CollabLearner`` over the saved user
    and item lists. The ratings are not in the export: ``recommend`` takes ``seen=`` (see its docstring).
    Other exports are returned as the tabular loader returns them."""
    learn = load_tabular(fname, cpu=cpu)
    factory = str((learn.model_spec or {}).get("factory", ""))
    if not isinstance(learn, TabularLearner) or not factory.startswith("torchloom_collab."):
        return learn
    old = learn.dls
    dls = CollabDataLoaders.from_tabular(old.tabular, bs=old.train.bs, shuffle_train=False,
                                         device="cpu" if cpu else None, path=old.path)
    kwargs = {"opt_func": learn.opt_func} if isinstance(learn.opt_func, str) else {}
    return CollabLearner(dls, learn.model, loss_func=learn.loss_func, model_spec=learn.model_spec,
                         progress=False, path=learn.path, **kwargs)
