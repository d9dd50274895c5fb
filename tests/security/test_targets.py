"""The one target resolver: its rules, each accepted role, and hostile targets refused before any import."""
from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torchloom
from tests.security.helpers import write_marker_free
from torchloom import Allow, TargetError, exportable_loss, import_target, model_factory, target_of
from torchloom._targets import (
    GETTER,
    LOSS_FUNC,
    LOSS_INSTANCE,
    MODEL,
    TRANSFORM,
    TYPE,
    MissingTargetError,
    check_kwargs,
    split_target,
)

ROLES = [MODEL, LOSS_INSTANCE, LOSS_FUNC, TRANSFORM, TYPE, GETTER]
HOSTILE = [
    "os:system", "builtins:eval", "builtins:exec", "subprocess:Popen", "shutil:rmtree", "pickle:loads",
    "torch.utils.cpp_extension:subprocess.Popen", "torch:os.system", "torchvision.models.resnet:torch.os.abort",
    "torch:load", "torch.hub:load", "torch.utils.cpp_extension:load", "importlib:import_module",
    "torchloom:__builtins__", "torch.nn:__class__", "torch.nn:Module.__subclasses__",
    ".relative:Net", "..up:Net", "torch.__init__:load", "__main__:Net", "os.path:join", "torchloom:os",
    "torchloom._persist.safe:importlib", "torch:nn", "builtins:__import__", "sys:exit", "posix:system",
    "", ":", "torch:", ":Linear", "torch nn:Linear", "torch.nn:Linear:x", "torch.nn:Lin ear", "a" * 600 + ":x",
]


@model_factory
def factory(n: int = 2) -> nn.Module:
    return nn.Linear(n, 1)


@exportable_loss
def my_loss(out, targ):
    return (out - targ).abs().mean()


class MyLoss(nn.Module):
    def forward(self, out, targ):
        return out.sum()


def not_marked() -> nn.Module:
    return nn.Linear(1, 1)


@pytest.mark.parametrize("target", HOSTILE)
@pytest.mark.parametrize("allow", ROLES, ids=lambda a: a.what)
def test_hostile_targets_are_refused_naming_file_and_field(target, allow, no_new_modules):
    with pytest.raises(TargetError) as ei:
        import_target(target, allow, source="evil.safetensors", field="loss.target")
    msg = str(ei.value)
    assert msg.startswith("evil.safetensors: loss.target: "), msg
    assert not isinstance(ei.value, MissingTargetError) or target.startswith("torchloom"), msg


def test_a_module_that_runs_code_on_import_is_never_imported(trap, no_new_modules):
    name, marker = trap
    for allow in ROLES:
        for attr in ("Net", "T", "loss"):
            with pytest.raises(TargetError, match=rf"f\.safetensors: model_spec\.factory: .*module '{name}' is not "
                                                   "imported"):
                import_target(f"{name}:{attr}", allow, source="f.safetensors", field="model_spec.factory")
    write_marker_free(marker)
    assert name not in sys.modules


def test_a_trusted_module_already_imported_is_looked_up_not_reimported(trap):
    name, marker = trap
    __import__(name)  # the program imports it itself: that is the user's decision
    marker.unlink()
    assert import_target(f"{name}:Net", MODEL).__name__ == "Net"
    assert not marker.exists()  # lookup only, nothing called
    with pytest.raises(TargetError, match="not a torch.nn.functional loss"):
        import_target(f"{name}:loss", LOSS_FUNC)  # an unmarked function stays refused


@pytest.mark.parametrize("allow, target, expected", [
    (MODEL, "torch.nn:Linear", nn.Linear),
    (MODEL, f"{__name__}:factory", factory),
    (LOSS_INSTANCE, "torch.nn:CrossEntropyLoss", nn.CrossEntropyLoss),
    (LOSS_INSTANCE, "torch.nn.modules.loss:MSELoss", nn.MSELoss),
    (LOSS_INSTANCE, "torchloom:CrossEntropyLossFlat", torchloom.CrossEntropyLossFlat),
    (LOSS_FUNC, "torch.nn.functional:cross_entropy", F.cross_entropy),
    (LOSS_FUNC, f"{__name__}:my_loss", my_loss),
    (TRANSFORM, "torchloom:Categorize", torchloom.Categorize),
    (TRANSFORM, "categorize", torchloom.Categorize),  # a registered plugin name
    (TYPE, "torchloom:TensorCategory", torchloom.TensorCategory),
    (GETTER, "torchloom:parent_label", torchloom.parent_label),
])
def test_each_role_accepts_what_it_names(allow, target, expected):
    assert import_target(target, allow) is expected


@pytest.mark.parametrize("allow, target", [
    (MODEL, f"{__name__}:not_marked"),
    (MODEL, "torch.nn.functional:relu"),
    (LOSS_INSTANCE, f"{__name__}:MyLoss"),  # an nn.Module is not a loss unless it is one or is marked
    (LOSS_INSTANCE, "torch.nn:Linear"),
    (LOSS_FUNC, "torch.nn.functional:relu"),
    (LOSS_FUNC, "torch.nn:CrossEntropyLoss"),
    (TRANSFORM, "torch.nn:Linear"),
    (TYPE, "torch.nn:Linear"),
    (GETTER, f"{__name__}:not_marked"),
])
def test_each_role_refuses_what_it_does_not_name(allow, target):
    with pytest.raises(TargetError, match="refusing"):
        import_target(target, allow)


def test_an_unknown_registered_name_is_a_clear_error():
    with pytest.raises(TargetError, match="transform .categorise.*Did you mean .categorize."):
        import_target("categorise", TRANSFORM, source="x.safetensors")


def test_a_missing_kernel_name_is_a_missing_target():
    with pytest.raises(MissingTargetError, match="has no attribute 'Nope'"):
        import_target("torchloom:Nope", MODEL)
    with pytest.raises(MissingTargetError, match="cannot import module 'torchloom.nope'"):
        import_target("torchloom.nope:Net", MODEL)


def test_split_target_syntax():
    assert split_target("torch.nn:Linear") == ("torch.nn", "Linear")
    assert split_target("a._private:_Net") == ("a._private", "_Net")  # single underscores are ordinary names
    for bad in ("torch.nn.Linear", "torch:nn.Linear", ".x:y", "x.__dict__:y", "x:__y", "x:def", "1x:y"):
        with pytest.raises(TargetError):
            split_target(bad)


def test_target_of_names_module_level_objects_only():
    assert target_of(nn.Linear) == "torch.nn.modules.linear:Linear"
    assert target_of(nn.Linear(1, 1)) == "torch.nn.modules.linear:Linear"
    assert target_of(factory) == f"{__name__}:factory"
    assert import_target(target_of(factory), MODEL) is factory  # round trip

    def local():
        pass

    class Outer:
        class Inner:
            pass

    for obj in (local, Outer, Outer.Inner):
        with pytest.raises(TargetError, match="top level of a module"):
            target_of(obj)


def test_marks_are_not_inherited_by_subclasses():
    @exportable_loss
    class Base(nn.Module):
        pass

    class Child(Base):
        pass

    assert LOSS_INSTANCE.accepts(Base) and not LOSS_INSTANCE.accepts(Child)


def test_kwargs_from_a_file_are_json_and_bind_to_the_signature():
    assert check_kwargs(nn.Linear, {"in_features": 2, "out_features": 3}, what="model") == {
        "in_features": 2, "out_features": 3}
    with pytest.raises(TargetError, match=r"f\.st: model_spec\.kwargs: model arguments .*do not match"):
        check_kwargs(nn.Linear, {"in_features": 2, "oops": 1}, what="model", source="f.st", field="model_spec.kwargs")
    with pytest.raises(TargetError, match="only JSON"):
        check_kwargs(nn.Linear, {"in_features": torch.ones(1)}, what="model")
    assert check_kwargs(nn.CrossEntropyLoss, {"weight": torch.ones(2)}, what="loss", tensors=True)
    with pytest.raises(TargetError, match="JSON object"):
        check_kwargs(nn.Linear, [1, 2], what="model")
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(TargetError, match="nested too deeply"):
        check_kwargs(nn.Linear, {"in_features": deep}, what="model")


def test_allow_presets_are_public():
    assert Allow.MODEL is MODEL and Allow.TRANSFORM.registry_kind == "transform"
