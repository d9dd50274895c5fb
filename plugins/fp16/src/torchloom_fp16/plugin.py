"""Entry point of torchloom-fp16: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1

# Unscale after gradient accumulation decided to step, before clipping looks at the gradients.
_ORDERING = dict(order=10, slot="precision", after=["gradient_accumulation"], before=["gradient_clip"])


@torchloom.hookimpl
def register_callbacks(register):
    register("fp16", "torchloom_fp16.precision:FP16", doc="float16 autocast with a dynamic loss scaler",
             **_ORDERING)
    register("bf16", "torchloom_fp16.precision:BF16", doc="bfloat16 autocast (no loss scaling)", **_ORDERING)
