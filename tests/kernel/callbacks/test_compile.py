"""``learn.use("compile")``: compiled training, eager fallback with one warning, and files that load either way."""
from __future__ import annotations

import warnings

import pytest
import torch

from torchloom import load_learner, unwrap_model
from torchloom.testing import synth_learner

SPEC = {"factory": "torchloom.testing._synth:RegModel", "kwargs": {}}


def _fit(learn, n=2):
    learn.fit(n, lr=0.1)
    return {k: v.clone() for k, v in learn.model.state_dict().items()}


def test_compiled_training_matches_eager_and_saves_plain_keys(tmp_path) -> None:
    eager = _fit(synth_learner(path=tmp_path))
    learn = synth_learner(path=tmp_path).use("compile", backend="eager")  # dynamo tracing, no codegen: fast
    compiled = _fit(learn)
    assert learn.compile.compiled and learn.compile.failed is None
    for k in eager:
        torch.testing.assert_close(compiled[k], eager[k])
    assert sorted(learn.model.state_dict()) == ["a", "b"]  # no _orig_mod. prefix
    learn.save("w")
    plain = synth_learner(path=tmp_path)
    plain.load("w")
    assert torch.equal(plain.model.a, learn.model.a)


def _broken_backend(gm, example_inputs):
    raise RuntimeError("backend unavailable here")


def test_failing_backend_falls_back_to_eager_with_one_warning(tmp_path) -> None:
    eager = _fit(synth_learner(path=tmp_path))
    learn = synth_learner(path=tmp_path).use("compile", backend=_broken_backend)
    with pytest.warns(RuntimeWarning, match="runs eagerly") as rec:
        fell_back = _fit(learn)
    assert len([w for w in rec if "torch.compile" in str(w.message)]) == 1
    assert "backend unavailable here" in learn.compile.failed
    assert not learn.compile.compiled
    for k in eager:
        torch.testing.assert_close(fell_back[k], eager[k])


def test_unknown_backend_name_warns_and_trains() -> None:
    learn = synth_learner().use("compile", backend="no-such-backend")
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        learn.fit(1)
    assert learn.compile.failed


def test_a_real_model_error_is_not_hidden_by_the_fallback() -> None:
    learn = synth_learner().use("compile", backend=_broken_backend)
    learn.model.a.data = torch.ones(2)  # (bs, 1) * (2,) still broadcasts: break the input instead
    learn.dls.train.tensors = (torch.ones(16, 3, 3), torch.ones(16, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="size of tensor"):
            learn.fit(1)


def test_unuse_returns_to_eager() -> None:
    learn = synth_learner().use("compile", backend="eager")
    learn.fit(1)
    m = learn.model
    learn.unuse("compile")
    m(torch.ones(2, 1))
    assert m._compiled_call_impl is None


def test_export_and_load_learner_with_a_torch_compile_wrapped_model(tmp_path) -> None:
    learn = synth_learner(path=tmp_path, model_spec=SPEC)
    learn.fit(1)
    learn.model = torch.compile(learn.model, backend="eager")  # a user's own wrapper: _orig_mod. keys
    assert all(k.startswith("_orig_mod.") for k in learn.model.state_dict())
    with pytest.warns(UserWarning, match="no get_spec"):
        path = learn.export("exp")
    learn.save("w", with_opt=False)
    back = load_learner(path)
    assert torch.equal(back.model.a, unwrap_model(learn.model).a)
    fresh = synth_learner(path=tmp_path)
    fresh.load("w", with_opt=False)
    assert torch.equal(fresh.model.b, unwrap_model(learn.model).b)


def test_fused_adamw_trains_like_torch_adamw() -> None:
    fused = synth_learner(opt_func="fused_adamw")
    fused.fit(2, lr=0.05)
    assert "fused" in repr(fused.opt.opt) or fused.opt.opt.defaults.get("fused") or fused.opt.opt.defaults.get("foreach")
    ref = synth_learner(opt_func="adamw")
    ref.fit(2, lr=0.05)
    torch.testing.assert_close(fused.model.a, ref.model.a, rtol=1e-3, atol=1e-4)
