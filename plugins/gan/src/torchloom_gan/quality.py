"""A quality score for Fashion-MNIST GANs that fails when training fails.

No pretrained Inception network is available offline, so the score uses a small Fashion-MNIST
classifier trained here once (at least 90 % test accuracy, checked) and cached (``quality_cache_dir``:
``$TORCHLOOM_GAN_CACHE``, else ``$TORCHLOOM_HOME/gan-quality``). From it:

* **Fréchet distance** between the classifier's penultimate features of generated images and of the
  10,000 official test images (the FID recipe with our features): lower is better; noise from an
  untrained generator scores far higher than images that look like clothes.
* **Class coverage**: the share of the 10 classes that receive at least ``min_share`` (default 2 %)
  of the generated images -- a collapsed generator covers one or two.

Images are expected as the GAN data gives them: 1 x 32 x 32 in [-1, 1] (28x28 padded by 2 pixels).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["FashionClassifier", "GANScore", "QualityScorer", "class_coverage", "frechet_distance",
           "quality_classifier", "quality_cache_dir"]

CACHE_FILE = "fashion-classifier-v1.safetensors"
MIN_ACCURACY = 0.90


def _block(ni: int, nf: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(ni, nf, 3, stride, 1, bias=False), nn.BatchNorm2d(nf), nn.ReLU())


class FashionClassifier(nn.Module):
    """A small CNN for 1 x 32 x 32 images in [-1, 1]: ``features`` gives the 128-d penultimate layer."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(_block(1, 32, 2), _block(32, 64, 2), _block(64, 128, 2),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, n_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def quality_cache_dir() -> Path:
    """Where the classifier is cached: ``$TORCHLOOM_GAN_CACHE`` if set, else ``$TORCHLOOM_HOME/gan-quality``
    (default ``~/.cache/torchloom/gan-quality``)."""
    own = os.environ.get("TORCHLOOM_GAN_CACHE")
    if own:
        return Path(own)
    home = os.environ.get("TORCHLOOM_HOME")
    return (Path(home) if home else Path.home() / ".cache" / "torchloom") / "gan-quality"


def _pad32(x: np.ndarray) -> Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 32, 32) in [-1, 1], like the GAN data."""
    t = torch.from_numpy(np.array(x, copy=True)).float().div_(127.5).sub_(1.0)[:, None]
    return torch.nn.functional.pad(t, (2, 2, 2, 2), value=-1.0)


class _XYBatch:
    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __call__(self, idxs: list[int]) -> tuple[Tensor, Tensor]:
        i = torch.as_tensor(idxs)
        return self.x[i], self.y[i]


class _Range:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def _train(epochs: int, bs: int, lr: float, seed: int, device: Any = None) -> tuple[FashionClassifier, float]:
    """Train the classifier with the torchloom Learner on the 60k training images; accuracy on the 10k test set."""
    from torchloom import CrossEntropyLossFlat, DataLoader, DataLoaders, Learner, accuracy, load_dataset

    ds = load_dataset("fashion-mnist")
    xtr, ytr = _pad32(ds.x_train), torch.from_numpy(ds.y_train.astype(np.int64))
    xte, yte = _pad32(ds.x_test), torch.from_numpy(ds.y_test.astype(np.int64))
    torch.manual_seed(seed)
    model = FashionClassifier()
    if device is not None:
        model.to(device)  # the Learner moves each batch to the model's device
    train = DataLoader(_Range(len(xtr)), bs=bs, shuffle=True, drop_last=True, create_batch=_XYBatch(xtr, ytr),
                       seed=seed)
    valid = DataLoader(_Range(len(xte)), bs=1000, create_batch=_XYBatch(xte, yte))
    learn = Learner(DataLoaders(train, valid), model, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                    progress=False, wd=0.01)
    with learn.no_logging():
        learn.fit_one_cycle(epochs, lr)
    acc = float(learn.validate()[1])
    model.cpu().eval()
    return model, acc


def quality_classifier(cache_dir: str | os.PathLike[str] | None = None, retrain: bool = False, epochs: int = 3,
                       verbose: bool = False, device: Any = None) -> tuple[FashionClassifier, float]:
    """The cached Fashion-MNIST classifier (on the CPU) and its test accuracy; trained the first time (a few
    CPU minutes; ``device`` trains elsewhere, e.g. "cuda") and cached. Raises if it does not reach 90 %."""
    from safetensors.torch import load_file, save_file

    from torchloom import atomic_write

    folder = Path(cache_dir) if cache_dir is not None else quality_cache_dir()
    path = folder / CACHE_FILE
    model = FashionClassifier()
    if path.is_file() and not retrain:
        meta_path = path.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text())
            model.load_state_dict(load_file(str(path)))
        except (OSError, ValueError, RuntimeError) as e:
            raise RuntimeError(f"the cached GAN-quality classifier {path} is unreadable ({e}); delete it or call "
                               "quality_classifier(retrain=True)") from e
        model.eval()
        return model, float(meta["accuracy"])
    if verbose:
        print(f"training the Fashion-MNIST quality classifier ({epochs} epochs), cached in {folder}")
    model, acc = _train(epochs=epochs, bs=128, lr=4e-3, seed=0, device=device)
    if acc < MIN_ACCURACY:
        raise RuntimeError(f"the GAN-quality classifier reached only {acc:.2%} test accuracy (< {MIN_ACCURACY:.0%}); "
                           "the score would not be meaningful")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (CACHE_FILE + ".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, path)
    with atomic_write(path.with_suffix(".json"), "w") as f:
        f.write(json.dumps({"accuracy": acc, "epochs": epochs}))
    return model, acc


@torch.no_grad()
def _run(model: FashionClassifier, x: Tensor, bs: int = 1000) -> tuple[Tensor, Tensor]:
    feats, logits = [], []
    for i in range(0, len(x), bs):
        f = model.features(x[i:i + bs].float())
        feats.append(f)
        logits.append(model.head(f))
    return torch.cat(feats).double(), torch.cat(logits)


def _sqrtm_psd(m: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(feats_a: Tensor, feats_b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples):
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``."""
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"frechet_distance: need two (n, d) feature sets of the same d, got "
                         f"{tuple(feats_a.shape)} and {tuple(feats_b.shape)}")
    if min(len(feats_a), len(feats_b)) < 2:
        raise ValueError("frechet_distance: need at least 2 samples per set")
    a, b = feats_a.double(), feats_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = torch.cov(a.T), torch.cov(b.T)
    sa = _sqrtm_psd(ca)
    cross = torch.linalg.eigvalsh(sa @ cb @ sa).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + torch.trace(ca) + torch.trace(cb) - 2 * cross)


def class_coverage(preds: Tensor, n_classes: int = 10, min_share: float = 0.02) -> float:
    """Share of the ``n_classes`` classes that receive at least ``min_share`` of the predictions
    (``preds``: predicted labels, or logits/probabilities of shape (n, n_classes))."""
    labels = preds.argmax(-1) if preds.ndim == 2 else preds
    counts = torch.bincount(labels.long().flatten(), minlength=n_classes).double()
    return float((counts / counts.sum() >= min_share).double().mean())


@dataclass
class GANScore:
    """Fréchet distance (lower is better), class coverage (0-1) and how many samples fell in each class."""

    fid: float
    coverage: float
    class_counts: list[int]
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"Fréchet distance {self.fid:.2f}, class coverage {self.coverage:.0%} "
                f"({sum(c > 0 for c in self.class_counts)} classes hit) over {self.n} samples")


class QualityScorer:
    """Scores generated Fashion-MNIST images against the official test set with the cached classifier."""

    def __init__(self, classifier: FashionClassifier | None = None, n_real: int = 10000,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        from torchloom import load_dataset

        if classifier is None:
            classifier, self.accuracy = quality_classifier(cache_dir)
        else:
            self.accuracy = None
        self.classifier = classifier.eval()
        ds = load_dataset("fashion-mnist")
        self.real_feats, _ = _run(self.classifier, _pad32(ds.x_test[:n_real]))

    def score(self, images: Tensor, min_share: float = 0.02) -> GANScore:
        """Score ``images`` of shape (n, 1, 32, 32) in [-1, 1]."""
        if not isinstance(images, Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (1, 32, 32):
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"QualityScorer.score expects images of shape (n, 1, 32, 32) in [-1, 1], got {shape}")
        x = images.detach().float().cpu().as_subclass(Tensor).clamp(-1, 1)
        feats, logits = _run(self.classifier, x)
        counts = torch.bincount(logits.argmax(-1), minlength=10).tolist()
        return GANScore(frechet_distance(feats, self.real_feats), class_coverage(logits, min_share=min_share),
                        counts, len(x))

    def score_generator(self, generator: nn.Module, n: int = 2000, seed: int = 0) -> GANScore:
        """Sample ``n`` images (fixed noise ``seed``) from ``generator`` in eval mode and score them."""
        from .learner import sample

        return self.score(sample(generator, n, seed=seed))
