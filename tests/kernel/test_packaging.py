"""What the installed torchloom distribution declares: licence file, Python floor, dependencies, version."""
from __future__ import annotations

import importlib.metadata

import torchloom


def test_installed_kernel_carries_its_license_and_declares_what_it_needs() -> None:
    dist = importlib.metadata.distribution("torchloom")
    assert [f.name for f in dist.files or [] if f.name == "LICENSE"], "LICENSE is missing from the wheel"
    assert dist.metadata["License-Expression"] == "Apache-2.0"
    assert dist.metadata["Requires-Python"] == ">=3.11"  # BaseException.add_note is used (3.11+)
    requires = [r.split(";")[0].replace(" ", "") for r in dist.requires or []]
    assert "torch>=2.3" in requires  # torch.compiler.is_compiling and torch.amp.GradScaler("cuda") need 2.3
    assert not [r for r in requires if r.startswith("importlib")]
    assert dist.version == torchloom.__version__  # written once: pyproject reads torchloom._version
