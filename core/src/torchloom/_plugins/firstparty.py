"""Which first-party distribution provides a name, so an unknown-name error can say what to install."""
from __future__ import annotations

#: distribution -> the names it registers. For the distributions in this repository a test checks the
#: lists against their real registrations (tests/integration), both ways.
_PROVIDERS: dict[str, tuple[str, ...]] = {
    "torchloom-mixup": ("mixup", "cutmix"),
    "torchloom-fp16": ("fp16", "bf16"),
    "torchloom-lamb": ("lamb", "lamb_step"),
    "torchloom-ema": ("ema",),
    "torchloom-wandb": ("wandb",),
    "torchloom-vision": (
        "fashion-mnist", "fashion-sample", "add_mask_codes", "affine_coord", "brightness", "contrast", "crop_pad",
        "dihedral", "flip", "lighting", "normalize", "point_scaler", "random_erasing", "random_resized_crop",
        "resize", "rotate", "to_tensor", "warp", "zoom", "image_reader",
    ),
    "torchloom-text": (
        "rnn_reset", "rnn_regularizer", "gradual_unfreeze", "tokenize", "numericalize", "rotten-tomatoes", "fortunes",
        "text_reader",
    ),
    "torchloom-tabular": ("adult", "categorify", "fill_missing", "normalize_tab"),
    "torchloom-collab": ("movielens",),
    "torchloom-gan": ("gan_trainer", "fixed_gan_switcher", "adaptive_gan_switcher", "gan_discriminative_lr"),
}

FIRST_PARTY: dict[str, str] = {name: dist for dist, names in _PROVIDERS.items() for name in names}


def first_party_dist(name: str) -> str | None:
    """The first-party distribution that registers ``name``, or None for third-party/unknown names."""
    return FIRST_PARTY.get(name) or FIRST_PARTY.get(name.replace("_", "-")) or FIRST_PARTY.get(name.replace("-", "_"))
