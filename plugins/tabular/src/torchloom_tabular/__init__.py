"""torchloom-tabular: pandas DataFrames for torchloom (fastai's tabular API as a plugin).

Public names load lazily (PEP 562): the plugin's entry point imports ``torchloom_tabular.plugin`` and that
must stay cheap, so pandas is imported only when a name is used.
"""
from __future__ import annotations

from torchloom import lazy_exports

_LAZY: dict[str, str] = {
    "TabularProc": "procs", "Categorify": "procs", "FillMissing": "procs", "FillStrategy": "procs",
    "Normalize": "procs",
    "TabularPandas": "core", "TabularSplit": "core", "ColumnNotFoundError": "core", "cont_cat_split": "core", "check_columns": "core",
    "TabDataLoader": "data", "TabularDataLoaders": "data",
    "TabularModel": "model", "LinBnDrop": "model", "SigmoidRange": "model", "Embedding": "model",
    "emb_sz_rule": "model", "get_emb_sz": "model", "tabular_config": "model",
    "TabularLearner": "learner", "tabular_learner": "learner",
    "TabularRow": "export", "ReadTabCats": "export", "ReadTabConts": "export", "ReadTabTarget": "export",
    "adult": "datasets", "Adult": "datasets", "load_learner": "load",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__, dist="torchloom-tabular")
