"""Entry point of torchloom-collab: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1


@torchloom.hookimpl
def register_datasets(register):
    # the ratings are processed by torchloom-tabular's procs (a declared dependency of this distribution)
    register("movielens", "torchloom_collab.datasets:movielens", requires=["categorify"],
             doc="MovieLens ml-latest-small: 100,004 ratings, 671 users, 9,066 movies with titles (local copy)")
