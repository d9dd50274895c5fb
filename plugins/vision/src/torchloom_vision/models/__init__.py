"""Model builders: body cut + fastai head (``vision``), dynamic U-Net (``unet``), shared layers (``layers``)."""
