"""``collab_learner`` and ``CollabLearner``: training, interpretation (biases, factors, PCA) and ``recommend``."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torchloom_tabular import TabularLearner, get_emb_sz

from torchloom import MSELossFlat

from .data import CollabDataLoaders
from .model import EmbeddingDotBias, EmbeddingNN

__all__ = ["CollabLearner", "collab_learner", "UnknownUserError"]


class UnknownUserError(KeyError):
    """A user or item that was not in the training ratings (it has no learned embedding)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CollabLearner(TabularLearner):
    """A learner over ``CollabDataLoaders``: ``bias``/``weight`` by item name, ``pca`` of the item factors,
    and ``recommend(user, n)``."""

    def _codes(self, values: Iterable[Any], is_item: bool) -> Tensor:
        dls = self.dls
        name = dls.item_name if is_item else dls.user_name
        classes = dls.classes[name]
        o2i = {v: i for i, v in enumerate(classes)}
        vals = list(values)
        missing = [v for v in vals if v not in o2i or o2i[v] == 0]
        if missing:
            kind = "item" if is_item else "user"
            raise UnknownUserError(f"{kind}(s) {missing[:10]} not in the training ratings' {name!r} column "
                                   f"({len(classes) - 1} known); they have no learned embedding")
        return torch.tensor([o2i[v] for v in vals], dtype=torch.long)

    def _dot_model(self) -> EmbeddingDotBias:
        if not isinstance(self.model, EmbeddingDotBias):
            raise TypeError("bias/weight/pca need an EmbeddingDotBias model (collab_learner(use_nn=False))")
        return self.model

    def bias(self, values: Iterable[Any], is_item: bool = True) -> Tensor:
        """The learned bias of each item (or user, ``is_item=False``), looked up by its name."""
        m = self._dot_model()
        idx = self._codes(values, is_item).to(m.i_bias.weight.device)
        return (m.i_bias if is_item else m.u_bias)(idx).squeeze(1).detach().cpu()

    def weight(self, values: Iterable[Any], is_item: bool = True) -> Tensor:
        """The learned factor vector of each item (or user), looked up by its name."""
        m = self._dot_model()
        idx = self._codes(values, is_item).to(m.i_weight.weight.device)
        return (m.i_weight if is_item else m.u_weight)(idx).detach().cpu()

    def pca(self, n: int = 3, items: Sequence[Any] | None = None) -> pd.DataFrame:
        """Principal components of the item factors (rows: items, columns ``PC1..``), most variance first."""
        if items is None:
            items = self.dls.classes[self.dls.item_name][1:]
        w = self.weight(items)
        w = w - w.mean(0, keepdim=True)
        _, _, v = torch.linalg.svd(w, full_matrices=False)
        comps = (w @ v[:n].T).numpy()
        return pd.DataFrame(comps, index=list(items), columns=[f"PC{i + 1}" for i in range(comps.shape[1])])

    def recommend(self, user: Any, n: int = 10, exclude_seen: bool = True, seen: Iterable[Any] | None = None
                  ) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for ``user`` among those it has not rated.

        The items the user rated come from the training ratings, or from ``seen`` (item names) when given.
        An exported learner holds the model and the user/item lists but not the ratings, so after
        ``load_learner`` pass ``seen=`` (or ``exclude_seen=False``). A user absent from the training ratings
        raises ``UnknownUserError`` (there is no embedding to rank with; recommend popular items another way
        for such cold-start users).
        """
        dls = self.dls
        u = int(self._codes([user], is_item=False)[0])
        n_items = len(dls.classes[dls.item_name])
        cand = torch.arange(1, n_items)
        if exclude_seen:
            if seen is not None:
                o2i = {v: i for i, v in enumerate(dls.classes[dls.item_name])}
                seen_codes = torch.tensor([o2i[v] for v in seen if o2i.get(v, 0) > 0], dtype=torch.long)
            else:
                to = dls.tabular
                if len(to.items) == 0:
                    raise ValueError(f"recommend: this learner has no ratings to tell which items user {user!r} "
                                     "already rated (an export stores the model and the user/item lists, not "
                                     "the ratings); pass seen=[the items the user rated] or exclude_seen=False")
                seen_codes = to.cats[:, 1][to.cats[:, 0] == u]
            mask = torch.ones(n_items, dtype=torch.bool)
            mask[seen_codes] = False
            cand = cand[mask[1:]]
        x = torch.stack([torch.full_like(cand, u), cand], 1)
        dev = next(self.model.parameters()).device
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                pred = self.model(x.to(dev)).reshape(-1).float().cpu()
        finally:
            self.model.train(was)
        top = torch.topk(pred, min(n, len(pred)))
        names = np.asarray(dls.classes[dls.item_name], dtype=object)[cand[top.indices].numpy()]
        return pd.DataFrame({dls.item_name: names, "predicted": top.values.numpy()})


def collab_learner(dls: CollabDataLoaders, n_factors: int = 50, use_nn: bool = False,
                   emb_szs: dict[str, int] | None = None, layers: Sequence[int] | None = None,
                   config: dict[str, Any] | None = None, y_range: Sequence[float] | None = None,
                   loss_func: Any = None, **kwargs: Any) -> CollabLearner:
    """``EmbeddingDotBias(n_factors)`` (or ``EmbeddingNN`` with ``use_nn``) trained with MSE; other keyword
    arguments go to ``Learner``."""
    if not isinstance(dls, CollabDataLoaders):
        raise TypeError(f"collab_learner needs CollabDataLoaders, got {type(dls).__name__}")
    yr = None if y_range is None else [float(v) for v in y_range]
    if use_nn:
        cfg = dict(config or {})
        if yr is not None:
            cfg["y_range"] = yr
        mkw: dict[str, Any] = {"emb_szs": [list(e) for e in get_emb_sz(dls.tabular, emb_szs)],
                               "layers": list(layers) if layers is not None else [n_factors], **cfg}
        model: Any = EmbeddingNN(**mkw)
        factory = "torchloom_collab.model:EmbeddingNN"
    else:
        mkw = {"n_factors": int(n_factors), "n_users": len(dls.classes[dls.user_name]),
               "n_items": len(dls.classes[dls.item_name]), "y_range": yr}
        model = EmbeddingDotBias(**mkw)
        factory = "torchloom_collab.model:EmbeddingDotBias"
    return CollabLearner(dls, model, loss_func=loss_func if loss_func is not None else MSELossFlat(),
                         model_spec={"factory": factory, "kwargs": mkw}, **kwargs)
