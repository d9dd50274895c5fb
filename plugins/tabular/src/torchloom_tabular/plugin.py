"""Entry point of torchloom-tabular: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1

_T = "torchloom_tabular"
# The procs are registered by name (an export names them so); the row readers of the saved pipeline are
# plain Transform subclasses of this package, which load_learner rebuilds by their module path.
_TRANSFORMS = {
    "categorify": ("procs:Categorify", "categorical columns -> codes, #na# for missing/unseen (train-only setup)"),
    "fill_missing": ("procs:FillMissing", "fill missing numbers with a training statistic, add <col>_na"),
    "normalize_tab": ("procs:Normalize", "normalise continuous columns with training mean/std"),
}


@torchloom.hookimpl
def register_transforms(register):
    for name, (target, doc) in _TRANSFORMS.items():
        register(name, f"{_T}.{target}", doc=doc)


@torchloom.hookimpl
def register_datasets(register):
    register("adult", f"{_T}.datasets:adult",
             doc="UCI Adult census income: 32,561 train + 16,281 test rows (checksum-verified local copy)")
