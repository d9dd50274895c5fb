"""GAN step-by-step check: torchloom-gan vs fastai 2.8, weight by weight, for the first few iterations.

Both sides start from the same weights and read the same batches (as in ``bench_gan.py``), so with the
same math every loss and every weight after every step must agree up to float rounding. This prints,
per iteration, which network trained, both losses, and the largest weight / BatchNorm-statistic
difference of the generator and the critic; the first row that goes past ``--tol`` names a semantic
difference. Our side runs with the plugin's defaults except ``channels_last`` (off unless
``--channels-last``: it changes float rounding only); ``--no-momentum-on-frozen`` leaves the frozen
network untouched (``GANLearner(momentum_on_frozen=False)``) instead of stepping it on its momentum as
fastai's single optimizer does, to show that difference alone.

    python bench/gan_step_check.py                           # 6 iterations: agrees to float rounding
    python bench/gan_step_check.py --no-momentum-on-frozen   # differs from iteration 1 (the critic)
(not a benchmark: ``run_all.py`` runs only ``bench_*.py``)
"""
from __future__ import annotations

import argparse
import contextlib
import io
from functools import partial

import torch
from _common import ListDLs
from bench_gan import make_batches, ours_models


def _snap(gan: torch.nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    return {part: {k: v.detach().clone().float() for k, v in getattr(gan, part).state_dict().items()}
            for part in ("generator", "critic")}


def _run_ours(batches: list, init: tuple, nf: int, lr: float, fastai_opt: bool, switcher: tuple,
              channels_last: bool, switch_eval: bool) -> list:
    from torchloom_gan import FixedGANSwitcher, GANLearner, bce_crit_loss, bce_gen_loss

    from torchloom import Adam, Callback

    g, c = ours_models(nf, 0)
    g.load_state_dict(init[0])
    c.load_state_dict(init[1])
    rows: list = []

    class Rec(Callback):
        after = ("gan_trainer",)

        def before_batch(self) -> None:
            self.mode = "gen" if self.learn.model.gen_mode else "crit"

        def after_batch(self) -> None:
            if self.learn.training:
                rows.append((self.mode, float(self.learn.loss), _snap(self.learn.model)))

    learn = GANLearner(ListDLs(batches, batches[:1]), g, c, bce_gen_loss, bce_crit_loss,
                       switcher=FixedGANSwitcher(*switcher), switch_eval=switch_eval, cbs=[Rec()],
                       opt_func=partial(Adam, mom=0.5, sqr_mom=0.999), progress=False,
                       momentum_on_frozen=fastai_opt, channels_last=channels_last)
    with learn.no_logging():
        learn.fit(1, lr, wd=0.0)
    return rows


def _run_fastai(batches: list, init: tuple, nf: int, lr: float, switcher: tuple, switch_eval: bool) -> list:
    from fastai.callback.core import Callback as FCallback
    from fastai.callback.progress import ProgressCallback
    from fastai.optimizer import Adam as FAdam
    from fastai.vision.gan import FixedGANSwitcher as FSwitcher
    from fastai.vision.gan import GANLearner as FGANLearner
    from fastai.vision.gan import GANTrainer as FTrainer
    from fastai.vision.gan import basic_critic as fcritic
    from fastai.vision.gan import basic_generator as fgenerator
    from torchloom_gan import bce_crit_loss, bce_gen_loss

    g = fgenerator(32, n_channels=1, n_features=nf)
    c = fcritic(32, n_channels=1, n_features=nf, act_cls=partial(torch.nn.LeakyReLU, negative_slope=0.2))
    g.load_state_dict(init[0], strict=True)
    c.load_state_dict(init[1], strict=True)
    rows: list = []

    class Rec(FCallback):
        run_after = FTrainer

        def before_batch(self) -> None:
            self.mode = "gen" if self.learn.model.gen_mode else "crit"

        def after_batch(self) -> None:
            if self.training:
                rows.append((self.mode, float(self.learn.loss), _snap(self.learn.model)))

    learn = FGANLearner(ListDLs(batches, batches[:1]), g, c, bce_gen_loss, bce_crit_loss,
                        switcher=FSwitcher(*switcher), switch_eval=switch_eval, cbs=[Rec()],
                        opt_func=partial(FAdam, mom=0.5, sqr_mom=0.999))
    learn.remove_cb(ProgressCallback)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        learn.fit(1, lr, wd=0.0)
    return rows


def _maxdiff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], buffers: bool) -> float:
    keys = [k for k in a if ("running" in k) == buffers and "num_batches" not in k]
    return max((a[k] - b[k]).abs().max().item() for k in keys) if keys else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=6)
    p.add_argument("--features", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--n-crit", type=int, default=1)
    p.add_argument("--n-gen", type=int, default=1)
    p.add_argument("--no-momentum-on-frozen", action="store_true", help="ours without fastai's stepping of the "
                   "frozen network")
    p.add_argument("--channels-last", action="store_true", help="ours in channels_last (default: as fastai)")
    p.add_argument("--switch-eval", action="store_true", help="both with switch_eval=True (the network that only "
                   "computes the loss in eval mode)")
    args = p.parse_args()
    torch.manual_seed(0)
    batches = make_batches(args.iters, 64, seed=0)
    g0, c0 = ours_models(args.features, 0)
    init = (g0.state_dict(), c0.state_dict())
    sw = (args.n_crit, args.n_gen)
    ours = _run_ours(batches, init, args.features, args.lr, not args.no_momentum_on_frozen, sw, args.channels_last, args.switch_eval)
    fast = _run_fastai(batches, init, args.features, args.lr, sw, args.switch_eval)
    print(f"ours: momentum_on_frozen={not args.no_momentum_on_frozen}, channels_last={args.channels_last}, "
          f"switch_eval={args.switch_eval}; "
          f"switcher {sw}; tolerance {args.tol:g}")
    print(f"{'it':>3} {'mode':>9} {'loss ours':>10} {'fastai':>10} {'gen w':>9} {'gen bn':>9} {'crit w':>9} "
          f"{'crit bn':>9}")
    first_bad = None
    for i, ((mo, lo, so), (mf, lf, sf)) in enumerate(zip(ours, fast)):
        d = [_maxdiff(so[n], sf[n], b) for n in ("generator", "critic") for b in (False, True)]
        bad = mo != mf or abs(lo - lf) > args.tol or max(d) > args.tol
        if bad and first_bad is None:
            first_bad = i
        print(f"{i:>3} {mo + '/' + mf:>9} {lo:>10.6f} {lf:>10.6f} " + " ".join(f"{x:>9.2e}" for x in d)
              + ("  <-" if bad else ""))
    print("identical within tolerance" if first_bad is None else f"first difference at iteration {first_bad}")


if __name__ == "__main__":
    main()
