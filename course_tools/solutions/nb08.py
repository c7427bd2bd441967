"""Solutions for notebook 08 (super-resolution)."""

import numpy as np
import tensorflow as tf

from dip_helpers.engine.operators import lanczos_kernel

CONCEPT_ANSWERS = (
    "To prevent aliasing: detail finer than the new pixel spacing would otherwise fold into false coarse patterns "
    "(jagged edges, moire on fine texture), depending on which pixel of each block happens to be kept. The blur "
    "removes that detail before subsampling, as a camera's optics and pixel area do.",  # 1
    "DIP returns the one its network reaches while matching the small image: the image whose structure the network "
    "draws most easily, natural-looking, with sharp edges. The bicubic enlargement is a fixed interpolation, not "
    "fitted to the operator: downsampled with the Lanczos operator it does not in general give back the small "
    "image exactly, so it is not one of them.",  # 2
    "The operator removes that detail: two large images that differ only in it have the same small image, so the "
    "loss cannot tell them apart and no fitting recovers it. Whatever the network draws there is its own preference, "
    "plausible at best, not a measurement.",  # 3
    "In x4 super-resolution the prior must supply 15 of every 16 values: nearly all the fine detail comes from the "
    "network, not from the measurement. So the gain over bicubic, which already gets the coarse content right, is "
    "modest: about 1 to 1.5 dB in the paper at x4.",  # 4
    "The loss to the small image keeps falling as the network fits everything in it, including its noise and "
    "compression artefacts, which it then enlarges; the lowest loss comes from the most overfitted output. With no "
    "original there is no PSNR to watch, so a criterion computed from the outputs alone, the variance of recent "
    "outputs (ES-WMV, notebook 06), picks the step.",  # 5
)


def lanczos_downsampler(factor, kernel=None):
    """``my_A`` for super-resolution by ``factor``: blur with the separable kernel ``np.outer(k, k)`` (``k``: the 1-D
    Lanczos-2 taps unless given), edges repeated, one pixel in ``factor`` kept: one depthwise convolution with equal
    strides."""
    k = lanczos_kernel(factor, 2) if kernel is None else np.asarray(kernel)
    pad = (len(k) - factor) // 2
    kernel2d = np.outer(k, k).astype(np.float32)

    def my_A(image):
        h, w, c = image.shape[1:]
        rows, cols = np.clip(np.arange(-pad, h + pad), 0, h - 1), np.clip(np.arange(-pad, w + pad), 0, w - 1)
        padded = tf.gather(tf.gather(image, rows, axis=1), cols, axis=2)  # edges repeated
        filters = np.repeat(kernel2d[:, :, None, None], c, axis=2)  # (k, k, C, 1): the same kernel on each channel
        return tf.nn.depthwise_conv2d(padded, filters, [1, factor, factor, 1], "VALID")

    return my_A


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
