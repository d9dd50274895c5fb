"""Hostile exports and checkpoints: every attack fails with an error naming the file and the field,
no payload runs (no marker file), and no module the program did not import enters ``sys.modules``."""
from __future__ import annotations

import struct
import sys

import pytest
import torch

from tests.security.helpers import make_export, make_learner, tamper, write_marker_free
from torchloom import TargetError, load_learner
from torchloom._persist.learner_io import MissingPluginError
from torchloom._persist.safe import BadFileError, UnsafeFileError, load_file

# every error a hostile file may produce: refusals and bad-file errors (all ValueErrors) or a missing plugin
REFUSALS = (TargetError, BadFileError, UnsafeFileError, MissingPluginError)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = make_export(tmp_path_factory.mktemp("export"))
    load_learner(path)  # genuine files load (and every kernel module a load needs is imported now)
    return path


def _attack(good, tmp_path, edit, match, field):
    bad = tamper(good, tmp_path / "evil.safetensors", edit)
    before = set(sys.modules)
    with pytest.raises(REFUSALS, match=match or None) as ei:
        load_learner(bad)
    msg = str(ei.value)
    assert str(bad) in msg, msg
    assert field in msg, msg
    assert set(sys.modules) == before, sorted(set(sys.modules) - before)
    return msg


def _loss(target, instance, config=None):
    def edit(obj, meta):
        meta["loss"] = {"target": target, "instance": instance}
        if config is not None:
            obj["loss"] = config
    return edit


def test_loss_popen_reached_through_torch_is_refused(good, tmp_path):
    marker = tmp_path / "PWNED"
    _attack(good, tmp_path, _loss("torch.utils.cpp_extension:subprocess.Popen", True,
                                  {"args": ["touch", str(marker)]}), "attribute paths are refused", "loss.target")
    write_marker_free(marker)


@pytest.mark.parametrize("target, instance", [
    ("torch:os.system", False), ("os:system", False), ("builtins:eval", False), ("builtins:exec", False),
    ("subprocess:Popen", True), ("subprocess:getoutput", False), ("torch:load", False),
    ("torch.nn:Linear", True), ("torch.nn.functional:relu", False), ("importlib:import_module", False),
    ("__main__:Net", True), (".losses:CrossEntropyLossFlat", True), ("torchloom._losses:__builtins__", False),
])
def test_hostile_loss_targets(good, tmp_path, target, instance):
    marker = tmp_path / "PWNED"
    _attack(good, tmp_path, _loss(target, instance, {"args": f"touch {marker}"}), "refusing", "loss.target")
    write_marker_free(marker)


def test_loss_config_must_fit_the_loss_signature(good, tmp_path):
    _attack(good, tmp_path, _loss("torchloom._losses:CrossEntropyLossFlat", True, {"shell": "rm -rf /"}),
            "do not match", "loss.config")


@pytest.mark.parametrize("factory, kwargs, match", [
    ("os:system", {"command": "touch PWNED"}, "refusing"),
    ("builtins:eval", {}, "refusing"),
    ("subprocess:Popen", {"args": ["touch", "PWNED"]}, "refusing"),
    ("torch:os.system", {}, "attribute paths"),
    ("torchvision.models.resnet:torch.os.abort", {}, "attribute paths"),
    ("torch.nn.functional:relu", {}, "refusing"),
    ("tests.security.helpers:mlp.__globals__", {}, "refusing"),
    ("../../etc:passwd", {}, "refusing"),
])
def test_hostile_model_factories(good, tmp_path, monkeypatch, factory, kwargs, match):
    monkeypatch.chdir(tmp_path)
    def edit(obj, meta):
        meta["model_spec"] = {"factory": factory, "kwargs": kwargs}
    _attack(good, tmp_path, edit, match, "model_spec.factory")
    write_marker_free(tmp_path / "PWNED")


def test_modules_named_in_a_file_are_not_imported(good, tmp_path, trap):
    name, marker = trap
    fields = {
        "model_spec.factory": lambda o, m: m.update(model_spec={"factory": f"{name}:Net", "kwargs": {}}),
        "loss.target": lambda o, m: m.update(loss={"target": f"{name}:Net", "instance": True}),
        "dls transform target": lambda o, m: m["dls"]["tls"][0].__setitem__(
            0, {"target": f"{name}:Net", "config": {}, "state": {}}),
        "dls.loaders.0.types.0": lambda o, m: m["dls"]["loaders"][0].__setitem__("types", [f"{name}:T"]),
    }
    for field, edit in fields.items():
        msg = _attack(good, tmp_path, edit, "is not imported", field)
        assert name in msg
    write_marker_free(marker)
    assert name not in sys.modules


def test_a_huge_architecture_is_refused_before_allocation(good, tmp_path, monkeypatch):
    from torch import nn

    def no_real_init(self):  # a real (non-meta) 200000x200000 layer would be 160 GB
        if self.weight.device.type != "meta":
            raise AssertionError("a layer sized by the file was allocated before its shape was checked")
    monkeypatch.setattr(nn.Linear, "reset_parameters", no_real_init)

    def edit(obj, meta):
        meta["model_spec"] = {"factory": "torch.nn:Linear", "kwargs": {"in_features": 200000, "out_features": 200000}}
    _attack(good, tmp_path, edit, "do not match the rebuilt model", "model")


def test_model_kwargs_must_fit_the_signature_and_be_json(good, tmp_path):
    def edit(obj, meta):
        meta["model_spec"]["kwargs"]["command"] = "touch PWNED"
    _attack(good, tmp_path, edit, "do not match", "model_spec.kwargs")

    def edit2(obj, meta):
        meta["model_spec"]["kwargs"] = ["not", "a", "dict"]
    _attack(good, tmp_path, edit2, "JSON object", "model_spec.kwargs")


@pytest.mark.parametrize("target", ["os:system", "torch.nn:Linear", "torchloom.data._getters:_resolve_exportable",
                                    "builtins:__import__"])
def test_hostile_transforms(good, tmp_path, target):
    def edit(obj, meta):
        meta["dls"]["tls"][0][0] = {"target": target, "config": {"command": "touch PWNED"}, "state": {}}
    _attack(good, tmp_path, edit, "refusing", "dls transform target")


def test_getter_named_in_a_transform_config_goes_through_the_resolver(good, tmp_path):
    def edit(obj, meta):
        meta["dls"]["tls"][0][0] = {"target": "torchloom.data._getters:Getter", "config": {"func": "os:system"},
                                    "state": {}}
    _attack(good, tmp_path, edit, "refusing getter target 'os:system'", "getter func")


def test_transform_config_must_fit_the_transform(good, tmp_path):
    def edit(obj, meta):
        meta["dls"]["tls"][1][1]["config"] = {"vocab": None, "evil": 1}
    _attack(good, tmp_path, edit, "do not match", "dls transform config")


def test_tensor_types_are_checked_not_silently_dropped(good, tmp_path):
    def edit(obj, meta):
        meta["dls"]["loaders"][0]["types"] = ["os:system"]
    _attack(good, tmp_path, edit, "refusing tensor type", "dls.loaders.0.types.0")


# --- malformed files -----------------------------------------------------------------------------

@pytest.mark.parametrize("edit, field", [
    (lambda o, m: m.pop("model_spec"), "model_spec"),
    (lambda o, m: m["model_spec"].pop("factory"), "model_spec.factory"),
    (lambda o, m: m.update(model_spec=["x"]), "model_spec"),
    (lambda o, m: m.update(model_spec={"factory": 42}), "model_spec.factory"),
    (lambda o, m: o.pop("model"), "model"),
    (lambda o, m: m.pop("loss"), "loss"),
    (lambda o, m: m["loss"].pop("target"), "loss.target"),
    (lambda o, m: m.update(plugins=["mixup"]), "plugins"),
    (lambda o, m: m.update(opt_func={"x": 1}), "opt_func"),
    (lambda o, m: m["dls"].pop("tls"), "dls"),
    (lambda o, m: m["dls"].update(loaders="x"), "dls"),
    (lambda o, m: o["model"].update({"0.weight": torch.zeros(3, 3)}), "0.weight"),
    (lambda o, m: o["model"].pop("2.bias"), "2.bias"),
    (lambda o, m: o["model"].update({"extra": torch.zeros(1)}), "extra"),
])
def test_malformed_exports_name_the_file_and_field(good, tmp_path, edit, field):
    _attack(good, tmp_path, edit, "", field)


def test_truncated_file(good, tmp_path):
    data = good.read_bytes()
    bad = tmp_path / "trunc.safetensors"
    bad.write_bytes(data[:-100])
    with pytest.raises(BadFileError, match=r"trunc\.safetensors: cannot read the file"):
        load_file(bad)


def test_non_utf8_header(good, tmp_path):
    data = good.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8:8 + n].replace(b"torchloom/1", b"torchl\xffom/1", 1)
    assert header != data[8:8 + n]
    bad = tmp_path / "utf.safetensors"
    bad.write_bytes(data[:8] + header + data[8 + n:])
    with pytest.raises(BadFileError, match=r"utf\.safetensors: cannot read the file"):
        load_file(bad)


def test_deep_json_header_is_refused_without_recursion(good, tmp_path):
    def edit(obj, meta):
        meta["model_spec"]["kwargs"]["n_in"] = "PLACEHOLDER"
    src = tamper(good, tmp_path / "deep0.safetensors", edit)
    obj, meta = load_file(src)
    from safetensors.torch import load_file as st_load
    from safetensors.torch import save_file as st_save

    tensors = st_load(str(src))
    import json

    from safetensors import safe_open
    with safe_open(str(src), framework="pt") as f:
        doc = f.metadata()["torchloom"]
    deep = doc.replace('"PLACEHOLDER"', "[" * 100_000 + "]" * 100_000)
    bad = tmp_path / "deep.safetensors"
    st_save(tensors, str(bad), metadata={"torchloom": deep})
    with pytest.raises(BadFileError, match=r"deep\.safetensors: header nests 100\d+ levels deep"):
        load_learner(bad)
    assert json.loads(doc)  # the untouched header is fine


def test_header_size_is_capped(tmp_path):
    bad = tmp_path / "big.safetensors"
    with open(bad, "wb") as f:
        f.write(struct.pack("<Q", 2**40) + b"{" + b" " * 16)
        f.truncate(2**40 + 64)  # sparse: the claimed header fits in the file
    with pytest.raises(BadFileError, match=r"big\.safetensors: header is \d+ bytes, more than"):
        load_file(bad)


def test_skeleton_naming_a_missing_tensor(good, tmp_path):
    def edit(obj, meta):
        pass
    src = tamper(good, tmp_path / "s.safetensors", edit)
    from safetensors import safe_open
    from safetensors.torch import load_file as st_load
    from safetensors.torch import save_file as st_save

    with safe_open(str(src), framework="pt") as f:
        doc = f.metadata()["torchloom"]
    tensors = st_load(str(src))
    tensors.pop("model.0.weight")
    bad = tmp_path / "missing.safetensors"
    st_save(tensors, str(bad), metadata={"torchloom": doc})
    with pytest.raises(BadFileError, match=r"missing\.safetensors: skeleton names tensor 'model\.0\.weight'"):
        load_learner(bad)


# --- optimizer state ------------------------------------------------------------------------------

def test_optimizer_state_of_another_optimizer_is_refused_on_load(tmp_path):
    sgd = make_learner(tmp_path, opt_func="sgd")
    sgd.fit(1)
    p = sgd.save("sgd")
    adam = make_learner(tmp_path, opt_func="adam")
    with pytest.raises(BadFileError, match=r"sgd\.safetensors: the optimizer state was saved by a different"):
        adam.load("sgd")
    adam.load("sgd", with_opt=False)  # the weights alone are fine
    assert torch.equal(adam.model[0].weight, sgd.model[0].weight)
    assert p.exists()
    same = make_learner(tmp_path, opt_func="sgd")
    same.load("sgd")
    same.fit(1)  # and state of the same optimizer still loads and trains


def test_checkpoint_with_missing_position_names_the_field(tmp_path):
    learn = make_learner(tmp_path)
    learn.fit(1)
    p = learn.save_checkpoint("ck", epoch=0)
    bad = tamper(p, tmp_path / "models" / "bad.safetensors", lambda o, m: o.pop("pos"))
    with pytest.raises(BadFileError, match=r"bad\.safetensors: missing field 'pos'"):
        learn.load_checkpoint(bad)
