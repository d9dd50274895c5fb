"""String annotations (``from __future__ import annotations``) naming local classes still dispatch."""
from __future__ import annotations

import torch

from torchloom import TensorBase, Transform


def test_local_classes_in_string_annotations():
    class LocalImage(TensorBase):
        pass

    class Other(str):
        pass

    class AddOne(Transform):
        def encodes(self, x: LocalImage) -> LocalImage:
            return x.as_subclass(torch.Tensor) + 1

    r = AddOne()(LocalImage(torch.zeros(1)))
    assert type(r) is LocalImage and r.item() == 1.0
    assert AddOne()(torch.zeros(1)).item() == 0.0  # plain tensor: not matched

    @AddOne.extend
    def encodes(self, x: Other):
        return "other"

    assert AddOne()(Other("a")) == "other"
