"""Entry point of torchloom-tabular: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1

_T = "torchloom_tabular"
_TRANSFORMS = {
    "categorify": ("procs:Categorify", "categorical columns -> codes, #na# for missing/unseen (train-only setup)"),
    "fill_missing": ("procs:FillMissing", "fill missing numbers with a training statistic, add <col>_na"),
    "tabular_normalize": ("procs:Normalize", "normalise continuous columns with training mean/std"),
    "tabular_row": ("export:TabularRow", "one row (dict/Series) -> a one-row DataFrame for the procs"),
    "read_tab_cats": ("export:ReadTabCats", "processed row -> categorical codes tensor"),
    "read_tab_conts": ("export:ReadTabConts", "processed row -> continuous values tensor"),
    "read_tab_target": ("export:ReadTabTarget", "row -> its target value(s)"),
}


@torchloom.hookimpl
def register_transforms(register):
    for name, (target, doc) in _TRANSFORMS.items():
        register(name, f"{_T}.{target}", doc=doc)


@torchloom.hookimpl
def register_datasets(register):
    register("adult", f"{_T}.datasets:adult",
             doc="UCI Adult census income: 32,561 train + 16,281 test rows (checksum-verified local copy)")
