"""Which first-party distribution provides a name, so an unknown-name error can say what to install."""
from __future__ import annotations

_PROVIDERS: dict[str, tuple[str, ...]] = {
    "torchloom-mixup": ("mixup", "cutmix"),
    "torchloom-fp16": ("fp16", "bf16", "mixed_precision", "to_fp16", "to_bf16"),
    "torchloom-lamb": ("lamb", "lamb_step"),
    "torchloom-ema": ("ema",),
    "torchloom-vision": (
        "fashion-mnist", "fashion-sample", "mnist", "flip", "add_mask_codes", "affine_coord", "point_scaler",
        "random_erasing", "to_tensor", "flip_lr", "dihedral", "rotate", "zoom", "warp", "brightness",
        "contrast", "saturation", "hue", "lighting", "resize", "random_resized_crop", "crop_pad",
        "normalize", "aug_transforms", "image_to_tensor", "pil_image", "pil_mask", "resnet18", "resnet34",
        "resnet50", "xresnet", "channels_last", "vision",
    ),
    "torchloom-text": (
        "rotten-tomatoes", "tokenize", "numericalize", "awd_lstm", "ulmfit", "lm_data", "rnn_regularizer",
        "rnn_callback", "text",
    ),
    "torchloom-tabular": ("adult", "categorify", "fill_missing", "normalize_tab", "tabular"),
    "torchloom-collab": ("movielens", "embedding_dot_bias", "embedding_nn", "collab"),
    "torchloom-gan": ("gan", "wgan", "gan_trainer", "fixed_gan_switcher", "adaptive_gan_switcher"),
}

FIRST_PARTY: dict[str, str] = {name: dist for dist, names in _PROVIDERS.items() for name in names}


def first_party_dist(name: str) -> str | None:
    """The first-party distribution that registers ``name``, or None for third-party/unknown names."""
    return FIRST_PARTY.get(name) or FIRST_PARTY.get(name.replace("_", "-")) or FIRST_PARTY.get(name.replace("-", "_"))
