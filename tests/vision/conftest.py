"""Shared fixtures for the vision tests (matplotlib, when used, renders off-screen with Agg)."""
from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
