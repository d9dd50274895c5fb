"""Entry point of torchloom-lamb: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1


@torchloom.hookimpl
def register_optimizers(register):
    register("lamb", "torchloom_lamb.optimizer:Lamb",
             doc="LAMB optimizer: Adam with a per-layer trust ratio, for large batches")


@torchloom.hookimpl
def register_steppers(register):
    register("lamb_step", "torchloom_lamb.optimizer:lamb_step",
             doc="LAMB step (trust-ratio-scaled Adam update); needs grad_avg, sqr_avg, step")
