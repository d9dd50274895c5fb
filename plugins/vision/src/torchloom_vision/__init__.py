"""torchloom-vision: images, masks, points and boxes for torchloom (fastai's vision API as a plugin).

Public names load lazily (PEP 562): the plugin's entry point imports ``torchloom_vision.plugin`` and
that must stay cheap, so torchvision, PIL and matplotlib are imported only when a name is used.
"""
from __future__ import annotations

from torchloom import lazy_exports

_LAZY: dict[str, str] = {
    # types and image IO
    "imagenet_stats": "core", "PILBase": "core", "PILImage": "core", "PILImageBW": "core", "PILMask": "core",
    "TensorImageBase": "core", "TensorImage": "core", "TensorImageBW": "core", "TensorMask": "core",
    "TensorPoint": "core", "TensorBBox": "core", "load_image": "core", "image2tensor": "core",
    # item transforms
    "ToTensor": "transforms", "Resize": "transforms", "RandomResizedCrop": "transforms", "CropPad": "transforms",
    "PointScaler": "transforms", "AddMaskCodes": "transforms", "Normalize": "transforms", "BBoxPad": "transforms",
    # batch augmentation
    "AffineCoordTfm": "augment", "Flip": "augment", "Dihedral": "augment", "Rotate": "augment",
    "Zoom": "augment", "Warp": "augment", "Brightness": "augment", "Contrast": "augment",
    "LightingTfm": "augment", "RandomErasing": "augment", "aug_transforms": "augment",
    # blocks and data factories
    "ImageBlock": "data", "MaskBlock": "data", "PointBlock": "data", "BBoxBlock": "data", "BBoxLblBlock": "data",
    "ImageDataLoaders": "data", "SegmentationDataLoaders": "data",
    # models and learners
    "AdaptiveConcatPool2d": "models.layers", "Flatten": "models.layers", "create_body": "models.vision",
    "create_head": "models.vision", "create_vision_model": "models.vision", "vision_learner": "learner",
    "model_meta": "models.vision", "SmallResNet": "models.small", "DynamicUnet": "models.unet", "create_unet_model": "models.unet",
    "unet_learner": "learner", "dice": "metrics", "Dice": "metrics", "DiceMulti": "metrics",
    "foreground_acc": "metrics", "dice_multi": "metrics",
    "cnn_learner": "learner",
    # show and datasets
    "show_images": "show", "show_batch": "show", "show_results": "show",
    "fashion_sample_path": "datasets", "fashion_seg_sample_path": "datasets", "fashion_mnist": "datasets",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__, dist="torchloom-vision")
