"""Solutions for notebook 07 (super-resolution)."""

import numpy as np


def my_rgb_to_y(image):
    """Luma of an RGB image in [0, 1], ITU-R BT.601 on the [16, 235] / 255 scale."""
    r, g, b = np.moveaxis(np.asarray(image, float), -1, 0)
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255


LR_SHAPE = (64, 48)  # 512 x 384 downsampled by 8


#: model answer to the open exercise
OPEN = """\
Exercise 3 (the kernel). If the measurement was made with a box filter and DIP's loss uses the same box
downsampler, DIP is fitting the right model and its result improves; if the loss uses Lanczos while the image was
box-filtered (or the reverse), DIP fits the wrong forward model and its PSNR drops. Super-resolution with DIP is
only as good as the operator A: the method assumes you know how the small image was made."""
