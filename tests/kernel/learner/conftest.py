"""Helpers for the Learner tests: a two-train-batch / one-valid-batch learner and a throwaway plugin site."""
from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from torchloom.plugins import reset_registry
from torchloom.testing import EventRecorder, synth_learner

# Tiny models on a shared 2-core machine: one intra-op thread avoids oversubscription (20x faster here).
torch.set_num_threads(1)


def tiny(**kwargs):
    """2 training batches and 1 validation batch (the sequence fastai.md §4.1 documents)."""
    kwargs.setdefault("n_train", 32)
    kwargs.setdefault("n_valid", 16)
    kwargs.setdefault("bs", 16)
    return synth_learner(**kwargs)


def recorded(learn, **kwargs) -> EventRecorder:
    rec = EventRecorder(**kwargs)
    learn.add_cb(rec)
    return rec


BATCH_TRAIN = ["before_batch", "after_pred", "after_loss", "before_backward", "after_backward", "before_step",
               "after_step", "after_batch"]
BATCH_VALID = ["before_batch", "after_pred", "after_loss", "after_batch"]


class PluginSite:
    """Fake installed distributions (dist-info + package) on sys.path, found through entry points."""

    def __init__(self, root: Path) -> None:
        self.root, self.packages, self.eps = root, [], []
        root.mkdir(parents=True, exist_ok=True)

    def add(self, dist: str, plugin_src: str, modules: dict[str, str], version: str = "1.0") -> None:
        pkg = dist.replace("-", "_")
        (self.root / pkg).mkdir()
        (self.root / pkg / "__init__.py").write_text("")
        (self.root / pkg / "plugin.py").write_text(textwrap.dedent(plugin_src).replace("{pkg}", pkg))
        for mod, src in modules.items():
            (self.root / pkg / f"{mod}.py").write_text(textwrap.dedent(src).replace("{pkg}", pkg))
        info = self.root / f"{pkg}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        ep = dist.removeprefix("torchloom-")
        (info / "entry_points.txt").write_text(f"[torchloom]\n{ep} = {pkg}.plugin\n")
        self.packages.append(pkg)
        self.eps.append(ep)
        importlib.invalidate_caches()
        reset_registry()


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    site = PluginSite(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site.root))
    for var in ("TORCHLOOM_PLUGINS", "TORCHLOOM_DISABLE_PLUGINS", "TORCHLOOM_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    reset_registry()
    yield site
    reset_registry()
    for name in [m for m in sys.modules if m.split(".")[0] in site.packages]:
        del sys.modules[name]
    importlib.invalidate_caches()
