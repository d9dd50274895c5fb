"""``tabular_learner`` and ``TabularLearner``: predictions as decoded rows, and permutation feature importance."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from torchloom import Learner

from .data import TabularDataLoaders
from .model import TabularModel, get_emb_sz

__all__ = ["TabularLearner", "tabular_learner"]


class TabularLearner(Learner):
    """A ``Learner`` whose ``predict`` takes a row (dict / Series / one-row DataFrame) and whose
    ``show_results`` is a DataFrame; adds ``feature_importance``."""

    def predict(self, row: Any, rm_type_tfms: Any = None, with_input: bool = False) -> tuple[Any, ...]:
        """``(decoded row with the prediction, class index or value, probabilities)`` for one row."""
        dls = self.dls
        if not isinstance(dls, TabularDataLoaders):
            return super().predict(row, rm_type_tfms=rm_type_tfms, with_input=with_input)
        if isinstance(row, pd.DataFrame) and len(row) != 1:
            raise ValueError(f"predict takes one row, got a DataFrame of {len(row)} rows (use test_dl + get_preds)")
        dl = dls.test_dl(row, with_labels=False)
        inp, preds, _, dec = self.get_preds(dl=dl, with_input=True, with_decoded=True)
        to = dls.tabular
        inp = tuple(inp) if isinstance(inp, (tuple, list)) else (inp,)
        cats = inp[0]
        conts = inp[1] if to.with_cont else None
        df = to.decode(cats, conts)
        name = to.y_names[0] if len(to.y_names) == 1 else "target"
        df[name] = to.decode_y(dec)
        res = (df.iloc[0], dec[0], preds[0])
        return (df.iloc[0], *res) if with_input else res

    def show_results(self, ds_idx: int = 1, dl: Any = None, max_n: int = 10, shuffle: bool = True,
                     show: bool = True, **kwargs: Any) -> Any:
        """Decoded rows of one batch with their target and prediction: a DataFrame, displayed when ``show``
        (nothing returned), returned with ``show=False``."""
        if not isinstance(self.dls, TabularDataLoaders):
            return super().show_results(ds_idx=ds_idx, dl=dl, max_n=max_n, shuffle=shuffle, **kwargs)
        if dl is None:
            dl = self.dls[ds_idx].new(shuffle=shuffle, drop_last=False)
        b = dl.one_batch()
        _, _, dec = self.get_preds(dl=[b], with_decoded=True)
        return dl.show_results(b, dec, max_n=max_n, show=show)

    def feature_importance(self, ds_idx: int = 1, n_repeats: int = 1, seed: int | None = 0, plot: bool = True,
                           ax: Any = None) -> pd.DataFrame:
        """Permutation importance on the validation rows: how much the loss rises (and each metric falls)
        when one input column is shuffled. A continuous column moves together with its ``_na`` indicator.

        Returns a DataFrame sorted by importance; ``plot`` draws it as horizontal bars (matplotlib).
        """
        dl = self.dls[ds_idx]
        split = dl.dataset
        to = self.dls.tabular
        base = self.validate(dl=dl)
        names = ["loss"] + [getattr(m, "name", str(m)) for m in self.metrics]
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        groups: dict[str, list[tuple[str, int]]] = {}
        for k, c in enumerate(to.cat_names):
            if c.endswith("_na") and c[:-3] in to.cont_names:
                continue
            groups[c] = [("cats", k)]
        for k, c in enumerate(to.cont_names):
            groups[c] = [("conts", k)] + ([("cats", to.cat_names.index(f"{c}_na"))]
                                          if f"{c}_na" in to.cat_names else [])
        rows = []
        for feat, cols in groups.items():
            scores = []
            for _ in range(n_repeats):
                perm = torch.randperm(len(split), generator=g)
                sp = copy.copy(split)
                for attr, k in cols:
                    t = getattr(sp, attr).clone()
                    t[:, k] = t[perm, k]
                    setattr(sp, attr, t)
                scores.append(self.validate(dl=dl.new(sp, shuffle=False, drop_last=False)))
            mean = np.mean(np.asarray(scores, dtype=np.float64), axis=0)
            row = {"feature": feat, "importance": float(mean[0] - base[0])}
            row.update({f"{n}_drop": float(base[i] - mean[i]) for i, n in enumerate(names) if i})
            rows.append(row)
        df = pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)
        if plot:
            import matplotlib.pyplot as plt

            if ax is None:
                _, ax = plt.subplots(figsize=(6, 0.3 * len(df) + 1))
            ax.barh(df["feature"][::-1], df["importance"][::-1])
            ax.set_xlabel("validation loss increase when shuffled")
            ax.set_title("Permutation feature importance")
        return df


def tabular_learner(dls: TabularDataLoaders, layers: Sequence[int] | None = None,
                    emb_szs: dict[str, int] | None = None, config: dict[str, Any] | None = None,
                    n_out: int | None = None, y_range: Sequence[float] | None = None, **kwargs: Any
                    ) -> TabularLearner:
    """A ``TabularLearner`` with a ``TabularModel`` sized from ``dls`` (``layers`` defaults to ``[200, 100]``).

    The loss defaults to cross-entropy for a categorical target and MSE for regression; other keyword
    arguments (``metrics``, ``opt_func``, ``lr``, ``use``...) go to ``Learner``.
    """
    if not isinstance(dls, TabularDataLoaders):
        raise TypeError(f"tabular_learner needs TabularDataLoaders, got {type(dls).__name__}")
    to = dls.tabular
    layers = [200, 100] if layers is None else list(layers)
    cfg = dict(config or {})
    if y_range is not None:
        cfg["y_range"] = [float(v) for v in y_range]
    if "y_range" in cfg and cfg["y_range"] is not None:
        cfg["y_range"] = [float(v) for v in cfg["y_range"]]
    if n_out is None:
        n_out = dls.c
    if not n_out:
        raise ValueError("tabular_learner: could not infer n_out from the data; pass n_out=")
    mkw = {"emb_szs": [list(e) for e in get_emb_sz(to, emb_szs)], "n_cont": len(to.cont_names),
           "out_sz": int(n_out), "layers": layers, **cfg}
    model = TabularModel(**mkw)
    kwargs.setdefault("loss_func", to.loss_func)
    return TabularLearner(dls, model, model_spec={"factory": "torchloom_tabular.model:TabularModel",
                                                  "kwargs": mkw}, **kwargs)
