"""Model building: body cut, fastai head, n_in adaptation, local-only pretrained weights, dynamic U-Net."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torchloom_vision import AdaptiveConcatPool2d, DynamicUnet, Flatten, SmallResNet, create_body, create_head
from torchloom_vision.models.unet import create_unet_model
from torchloom_vision.models.vision import create_vision_model, resolve_arch, vision_splitter


def n_features(body, n_in=3, size=32):
    body.eval()
    with torch.no_grad():
        out = body(torch.zeros(1, n_in, size, size))
    assert out.ndim == 4  # a feature map: the pooling and classifier are gone
    return out.shape[1]


@pytest.mark.parametrize("arch,nf", [("resnet18", 512), ("mobilenet_v3_small", 576), ("efficientnet_b0", 1280),
                                     (SmallResNet, 64)])
def test_body_cut_drops_pool_and_classifier(arch, nf):
    body = create_body(arch)
    assert not isinstance(list(body.children())[-1], (nn.Linear, nn.AdaptiveAvgPool2d))
    assert n_features(body) == nf


def test_head_is_fastai_layout():
    head = create_head(512, 7)
    kinds = [type(m) for m in head.modules() if not isinstance(m, nn.Sequential)]
    assert kinds == [AdaptiveConcatPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, Flatten, nn.BatchNorm1d,
                     nn.Dropout, nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.Dropout, nn.Linear]
    lins = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert (lins[0].in_features, lins[0].out_features, lins[1].out_features) == (1024, 512, 7)
    drops = [m.p for m in head.modules() if isinstance(m, nn.Dropout)]
    assert drops == [0.25, 0.5]
    assert create_head(64, 3, lin_ftrs=[], concat_pool=False)[-1][-1].in_features == 64


def test_grey_input_adapts_first_conv_and_splits_body_head():
    model = create_vision_model("resnet18", n_out=10, n_in=1)
    assert model[0][0].in_channels == 1
    model.eval()
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    body, head = vision_splitter(model)
    assert len(body) + len(head) == len(list(model.parameters()))
    assert {id(p) for p in head} == {id(p) for p in model[1].parameters()}


def test_pretrained_from_explicit_file_averages_rgb_weights(tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    f = tmp_path / "resnet18-local.pth"
    torch.save(ref.state_dict(), f)
    model = create_vision_model("resnet18", n_out=3, n_in=1, pretrained=True, weights=str(f))
    assert torch.allclose(model[0][0].weight, ref.conv1.weight.mean(1, keepdim=True))
    assert torch.equal(model[0][4][0].conv1.weight, ref.layer1[0].conv1.weight)  # the rest is loaded as is


def test_pretrained_from_hub_cache(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ref = torchvision.models.resnet18(weights=None)
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(ref.state_dict(), ckpt / "resnet18-f37072fd.pth")
    model = create_vision_model("resnet18", n_out=3, pretrained=True)
    assert torch.equal(model[0][0].weight, ref.conv1.weight)


def test_missing_pretrained_weights_say_how_to_get_them(tmp_path, monkeypatch, closed_port):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):  # no network, whatever this machine has
        monkeypatch.setenv(var, f"http://127.0.0.1:{closed_port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        create_vision_model("resnet18", n_out=3, pretrained=True)
    msg = str(e.value)
    assert "resnet18-f37072fd.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        create_vision_model("resnet18", n_out=3, pretrained=True, weights=str(tmp_path / "nothere.pth"))


def test_arch_names_are_checked():
    with pytest.raises(ValueError, match="resnet18"):
        resolve_arch("resnet18x")
    with pytest.raises(ValueError, match="refusing"):
        resolve_arch("os:system")  # a name read from a file never calls an arbitrary function
    fn, name = resolve_arch(SmallResNet)
    assert name == "torchloom_vision.models.small:SmallResNet" and resolve_arch(name)[0] is SmallResNet


@pytest.mark.parametrize("arch,size", [("resnet18", (28, 28)), (SmallResNet, (32, 48)), ("mobilenet_v3_small", (64, 64))])
def test_unet_output_matches_input_size(arch, size):
    model = create_unet_model(arch, n_out=5, img_size=size, n_in=1)
    assert isinstance(model, DynamicUnet)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, *size))
    assert out.shape == (2, 5, *size)
    assert all(not m._forward_hooks for m in model.modules())  # sizing hooks are removed


def test_unet_skips_follow_the_encoder_resolutions():
    model = create_unet_model("resnet18", n_out=2, img_size=(64, 64), n_in=3)
    # resnet18 body halves the resolution 5 times -> 4 skip connections, 4 decoder blocks
    assert len(model.blocks) == 4 and len(model.stages) == 5
