"""The kernel's conformance kit for "fp16" and "bf16"."""
from __future__ import annotations

from torchloom.testing import CallbackContract


class TestFP16Contract(CallbackContract):
    name = "fp16"
    kwargs = {"init_scale": 1024.0, "growth_interval": 4}
    task = "classification"


class TestBF16Contract(CallbackContract):
    name = "bf16"
    task = "classification"
