"""Pretrained weights through torch hub's cache: torchvision's files, a local file, a file:// URL (the
real download path: urllib, progress bar, hash check), and the error an offline machine gets."""
from __future__ import annotations

import hashlib

import pytest
import torch
import torchvision
from torchloom_vision import ImageDataLoaders, Normalize, PILImageBW, fashion_sample_path, vision_learner
from torchloom_vision.models.pretrained import PretrainedWeightsUnavailable, torchvision_weights_url

from torchloom import accuracy

ARCH = "squeezenet1_1"  # the smallest torchvision classifier with published weights (5 MB)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache for this test."""
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home / "hub" / "checkpoints"


@pytest.fixture
def ref():
    torch.manual_seed(0)
    return torchvision.models.get_model(ARCH, weights=None)


def _hashed_file(folder, model, stem="weights"):
    """Save ``model``'s weights as ``stem-<sha256 prefix>.pth``, torch hub's naming for hash-checked files."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.pth"
    torch.save(model.state_dict(), tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    return tmp.rename(folder / f"{stem}-{digest}.pth")


def test_pretrained_true_uses_torchvisions_file_from_the_hub_cache(hub, ref):
    url = torchvision_weights_url(ARCH)
    hub.mkdir(parents=True)
    torch.save(ref.state_dict(), hub / url.rsplit("/", 1)[1])
    from torchloom_vision import create_vision_model

    model = create_vision_model(ARCH, n_out=3, pretrained=True)
    assert torch.equal(model[0][0].weight, ref.features[0].weight)


def test_pretrained_url_downloads_into_the_cache_with_progress_and_hash_check(hub, ref, tmp_path, capfd):
    from torchloom_vision import create_vision_model

    src = _hashed_file(tmp_path / "mirror", ref)
    model = create_vision_model(ARCH, n_out=3, pretrained=src.as_uri())
    assert torch.equal(model[0][0].weight, ref.features[0].weight)
    assert (hub / src.name).is_file()  # cached: the next call reads it without downloading
    assert "100%" in capfd.readouterr().err  # torch hub's progress bar
    src.unlink()
    again = create_vision_model(ARCH, n_out=3, pretrained=src.as_uri())
    assert torch.equal(again[0][0].weight, ref.features[0].weight)


def test_a_download_that_fails_the_hash_check_is_refused_and_not_kept(hub, ref, tmp_path):
    from torchloom_vision import create_vision_model

    src = _hashed_file(tmp_path / "mirror", ref)
    bad = src.rename(src.with_name("weights-deadbeef.pth"))
    with pytest.raises(ValueError, match="hash"):
        create_vision_model(ARCH, n_out=3, pretrained=bad.as_uri())
    assert not (hub / bad.name).exists()


def test_offline_error_names_the_file_where_to_put_it_and_the_url(hub, closed_port):
    from torchloom_vision import create_vision_model

    url = f"http://127.0.0.1:{closed_port}/models/{ARCH}-0123abcd.pth"
    with pytest.raises(PretrainedWeightsUnavailable) as e:
        create_vision_model(ARCH, n_out=3, pretrained=url)
    msg = str(e.value)
    assert f"{ARCH}-0123abcd.pth" in msg and str(hub / f"{ARCH}-0123abcd.pth") in msg and url in msg
    assert isinstance(e.value, FileNotFoundError)


def test_local_files_pth_and_safetensors_and_a_clear_error_for_a_missing_or_unfit_one(ref, tmp_path):
    from safetensors.torch import save_file
    from torchloom_vision import create_vision_model

    pth = tmp_path / "w.pth"
    torch.save({"state_dict": ref.state_dict()}, pth)  # a checkpoint wrapping the state dict
    st = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(st))
    for f in (pth, str(st)):
        assert torch.equal(create_vision_model(ARCH, n_out=3, pretrained=f)[0][0].weight, ref.features[0].weight)
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        create_vision_model(ARCH, n_out=3, pretrained=tmp_path / "nothere.pth")
    with pytest.raises(ValueError, match="do not fit"):
        create_vision_model("resnet18", n_out=3, pretrained=pth)


def test_vision_learner_pretrained_freezes_the_body_and_adds_the_weights_statistics(ref, tmp_path):
    pth = tmp_path / "w.pth"
    torch.save(ref.state_dict(), pth)
    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=16, seed=0)
    learn = vision_learner(dls, ARCH, pretrained=str(pth), metrics=accuracy, progress=False)
    body, head = learn.splitter(learn.model)
    assert not any(p.requires_grad for p in body) and all(p.requires_grad for p in head)
    assert any(isinstance(t, Normalize) for t in learn.dls.valid.after_batch.fs)
    assert torch.allclose(learn.model[0][0].weight, ref.features[0].weight.mean(1, keepdim=True))  # grey input
    assert "pretrained" not in learn.model_spec["kwargs"]  # load_learner rebuilds without downloading
