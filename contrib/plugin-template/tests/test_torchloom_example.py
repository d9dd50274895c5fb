"""Tests of torchloom-example: torchloom's conformance kit plus the callback's own behaviour."""
from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torchloom import Callback
from torchloom.testing import CallbackContract, synth_learner

from torchloom_example import ExampleCallback


class TestExampleCallbackContract(CallbackContract):
    """The contract every callback plugin meets (add/remove, fit, state round-trip, cleanup)."""

    name = "example"
    kwargs = {"every": 2}


def _find(learn) -> ExampleCallback:
    return next(cb for cb in learn.cbs if isinstance(cb, ExampleCallback))


def test_records_one_norm_every_n_steps():
    learn = synth_learner().use("example", every=2)
    learn.fit(2)
    cb = _find(learn)
    n_batches = 2 * len(learn.dls.train)
    assert cb.n_steps == n_batches
    assert len(cb.norms) == n_batches // 2
    assert all(math.isfinite(v) and v > 0 for v in cb.norms)


def test_norm_is_the_global_gradient_norm():
    learn = synth_learner().use("example")
    seen = []  # the same norm, computed the plain way by a function callback

    def grad_norm(cb):
        seen.append(torch.cat([p.grad.flatten() for p in cb.learn.model.parameters()]).norm().item())

    learn.add_cb(Callback(after_backward=grad_norm))
    learn.fit(1)
    assert _find(learn).norms == pytest.approx(seen, rel=1e-5)


def test_state_round_trips():
    learn = synth_learner().use("example")
    learn.fit(1)
    state = _find(learn).state_dict()
    fresh = ExampleCallback()
    fresh.load_state_dict(state)
    assert fresh.n_steps == _find(learn).n_steps
    assert torch.equal(fresh.state_dict()["norms"], state["norms"])


def test_discovery_does_not_import_the_callback():
    # torchloom imports torchloom_example.plugin for every installed plugin: it must stay cheap
    code = (
        "import sys, torchloom_example.plugin\n"
        "print('torchloom_example.callback' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_bad_argument_is_refused():
    with pytest.raises(ValueError, match="every"):
        ExampleCallback(every=0)
