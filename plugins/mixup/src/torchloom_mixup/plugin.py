"""Entry point of torchloom-mixup: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1


@torchloom.hookimpl
def register_callbacks(register):
    register("mixup", "torchloom_mixup.mixup:MixUp", conflicts=["cutmix"],
             doc="MixUp: train on convex combinations of pairs of samples and their targets")
    register("cutmix", "torchloom_mixup.mixup:CutMix", conflicts=["mixup"],
             doc="CutMix: paste a random box of another image, targets weighted by area")
