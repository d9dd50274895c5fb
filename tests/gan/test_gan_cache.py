"""The quality classifier's cache: keyed by architecture and training recipe, so a stale file from another
version is never loaded into a different network (it is retrained, or a clear error names the file)."""
from __future__ import annotations

import pytest
import torch
from torch import nn


def _write_cache(folder, name: str, tensors: dict, meta: dict) -> None:
    import json

    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / name))
    (folder / name).with_suffix(".json").write_text(json.dumps(meta))


def _no_training(*args, **kwargs):
    raise AssertionError("the classifier would be retrained")


def test_cache_file_name_is_keyed_by_architecture_and_recipe():
    from torchloom_gan import cache_file_name

    assert cache_file_name().startswith("fashion-classifier-v1-") and cache_file_name().endswith(".safetensors")
    assert cache_file_name() == cache_file_name() != cache_file_name(epochs=5)


def test_a_cached_file_of_another_architecture_is_a_clear_error_naming_it(tmp_path):
    from torchloom_gan import cache_file_name, quality_classifier

    _write_cache(tmp_path, cache_file_name(), nn.Linear(3, 2).state_dict(), {"accuracy": 0.95, "epochs": 3})
    with pytest.raises(RuntimeError, match=rf"{cache_file_name()}.*does not hold this FashionClassifier.*missing"):
        quality_classifier(tmp_path)


def test_an_unkeyed_cache_file_is_used_only_if_it_fits(tmp_path, monkeypatch):
    import torchloom_gan.quality as q
    from torchloom_gan import FashionClassifier, cache_file_name, quality_classifier

    monkeypatch.setattr(q, "_train", _no_training)
    stale = tmp_path / "stale"
    _write_cache(stale, "fashion-classifier-v1.safetensors", nn.Linear(3, 2).state_dict(),
                 {"accuracy": 0.95, "epochs": 3})
    with pytest.raises(AssertionError, match="retrained"):  # another architecture: not loaded, trained anew
        quality_classifier(stale)
    torch.manual_seed(3)
    weights = FashionClassifier().state_dict()
    _write_cache(tmp_path, "fashion-classifier-v1.safetensors", weights, {"accuracy": 0.93, "epochs": 3})
    model, acc = quality_classifier(tmp_path)
    assert acc == pytest.approx(0.93)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert (tmp_path / cache_file_name()).is_file(), "the fitting file was not adopted under the keyed name"
