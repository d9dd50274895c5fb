"""torchloom-collab: collaborative filtering for torchloom (fastai's collab API as a plugin).

Built on torchloom-tabular's data layer (``Categorify`` and the column-gathering loader). Public names load
lazily (PEP 562) so plugin discovery stays cheap.
"""
from __future__ import annotations

from torchloom import lazy_exports

_LAZY: dict[str, str] = {
    "CollabDataLoaders": "data", "EmbeddingDotBias": "model", "EmbeddingNN": "model",
    "CollabLearner": "learner", "collab_learner": "learner", "UnknownUserError": "learner",
    "movielens": "datasets", "load_learner": "load",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__, dist="torchloom-collab")
