"""Learner tests: one intra-op thread (helpers are in helpers.py; the fake plugin ``site`` fixture comes from
tests/kernel/conftest.py)."""
from __future__ import annotations

import torch

# Tiny models on a shared 2-core machine: one intra-op thread avoids oversubscription (20x faster here).
torch.set_num_threads(1)
