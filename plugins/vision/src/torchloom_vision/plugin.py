"""Entry point of torchloom-vision: registrations only (targets are imported when first used)."""
from __future__ import annotations

import torchloom

PLUGIN_API = 1

_T = "torchloom_vision"
_TRANSFORMS = {
    "to_tensor": ("transforms:ToTensor", "PIL image/mask -> uint8 CHW tensor"),
    "resize": ("transforms:Resize", "resize items (crop | pad | squish)"),
    "random_resized_crop": ("transforms:RandomResizedCrop", "random crop of random scale/ratio, then resize"),
    "crop_pad": ("transforms:CropPad", "centre crop or pad items to a size"),
    "point_scaler": ("transforms:PointScaler", "scale points/boxes to [-1, 1] by their image size"),
    "add_mask_codes": ("transforms:AddMaskCodes", "attach segmentation codes to masks"),
    "normalize": ("transforms:Normalize", "normalize image batches (mean/std, with decode)"),
    "affine_coord": ("augment:AffineCoordTfm", "one batched warp: flip/dihedral/rotate/zoom/warp"),
    "flip": ("augment:Flip", "random horizontal flip of the batch (one warp)"),
    "dihedral": ("augment:Dihedral", "random dihedral symmetry of the batch (one warp)"),
    "rotate": ("augment:Rotate", "random rotation of the batch (one warp)"),
    "zoom": ("augment:Zoom", "random zoom of the batch (one warp)"),
    "warp": ("augment:Warp", "random perspective warp of the batch (one warp)"),
    "brightness": ("augment:Brightness", "random brightness of image batches"),
    "contrast": ("augment:Contrast", "random contrast of image batches"),
    "lighting": ("augment:LightingTfm", "random brightness and contrast in one pass"),
    "random_erasing": ("augment:RandomErasing", "erase a random rectangle per image"),
}


@torchloom.hookimpl
def register_transforms(register):
    for name, (target, doc) in _TRANSFORMS.items():
        register(name, f"{_T}.{target}", doc=doc)
    register("image_reader", f"{_T}.reader:ImageReader", reader=True,
             doc="image files -> model inputs for portable exports and `torchloom predict`")


@torchloom.hookimpl
def register_datasets(register):
    register("fashion-mnist", f"{_T}.datasets:fashion_mnist",
             doc="Fashion-MNIST 70k 28x28 grey images, 10 classes (local Debian copy or checksum-verified download)")
    register("fashion-sample", f"{_T}.datasets:fashion_sample_path",
             doc="bundled 1,300-image Fashion-MNIST sample as PNG class folders (path)")
