"""An architecture named "module:Name" (as an export's model_spec stores it) goes through the kernel's resolver."""
from __future__ import annotations

import sys

import pytest
from torch import nn
from torchloom_vision.models.vision import resolve_arch

from torchloom import TargetError


@pytest.mark.parametrize("arch", [
    "torchvision.models.resnet:torch.os.abort", "torchvision.models.resnet:os.system", "os:system",
    "builtins:eval", "subprocess:Popen", "torchvision.models.resnet:load_state_dict_from_url",
    "torchvision.models:__builtins__", ".resnet:resnet18",
])
def test_hostile_arch_targets_are_refused(arch):
    with pytest.raises(TargetError, match="arch"):
        resolve_arch(arch)


def test_arch_module_that_runs_code_is_not_imported(tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    (tmp_path / "tl_vision_trap.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nimport torch\n"
                                                 "class Net(torch.nn.Module):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TargetError, match="is not imported"):
        resolve_arch("tl_vision_trap:Net")
    assert not marker.exists() and "tl_vision_trap" not in sys.modules


def test_torchvision_builders_and_module_classes_are_accepted():
    fn, name = resolve_arch("torchvision.models.resnet:resnet18")
    assert name == "torchvision.models.resnet:resnet18" and fn.__name__ == "resnet18"
    assert resolve_arch("torch.nn:Identity")[0] is nn.Identity
