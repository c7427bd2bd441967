"""Solutions for notebook 07 (inpainting and restoration)."""

import numpy as np
import tensorflow as tf

from dip_helpers.metrics import psnr

CONCEPT_ANSWERS = (
    "None: m is 0 there, so the output at that pixel does not enter the loss and its gradient is zero. Its value is "
    "decided by the network: the same weights, shared by convolution over the whole image and fitted to draw the "
    "known pixels, draw the missing ones too, so they get whatever structure the network draws around them.",  # 1
    "It fills each hole with the smoothest surface that meets the hole's border. Across a stroke a pixel or two "
    "wide the image is nearly smooth, so that surface is close to the truth; across a large hole it draws a smooth "
    "blur from the border inward, with none of the edges or texture the hole hid.",  # 2
    "Skip connections let the network draw each pixel largely from fine-scale features computed close to it. That "
    "suits pixels with known neighbours, but in the middle of a large hole nothing nearby is known, so what the "
    "fine path draws there is constrained by no measurement. Without skips every pixel is drawn through the coarse "
    "scales, whose large receptive fields carry structure from the hole's border inward, and a deeper network "
    "reaches farther.",  # 3
    "Fitting the known pixels exactly is then no longer the goal: given enough steps the network fits the noise on "
    "them too, and what it draws in the holes degrades with them. The run needs early stopping or the moving "
    "average of outputs again, as in denoising (notebooks 05 and 06).",  # 4
    "An output pixel depends only on the input within its receptive field. With noise, that is a random code that, in "
    "the middle of the hole, no known pixel has ever been fitted to, so what the network draws from it is arbitrary; "
    "only a receptive field that reaches the hole's border (a deeper network) brings the colours around the hole in. "
    "With a meshgrid the input around a pixel is its position, so the network draws a function of position, and the "
    "same function, fitted around the hole, goes on across it: a continuation of what surrounds the hole, a good "
    "guess for structure that is a simple function of position, like straight stripes.",  # 5
)


def mask_operator(mask):
    """``my_A`` for a given mask: A(x) = m * x, the batch of images times the (H, W, 1) mask."""

    def my_A(image):
        return image * mask

    return my_A


def dip_loss(my_A):
    """``my_loss`` with a given ``my_A``: the mean of (A(output) - y)^2, notebook 05's loss with A in it."""

    def my_loss(output, y):
        return tf.reduce_mean(tf.square(my_A(output) - y))

    return my_loss


def my_square_hole(h, w, side):
    """Mask of ones with a centred square of zeros."""
    m = np.ones((h, w, 1), np.float32)
    top, left = (h - side) // 2, (w - side) // 2
    m[top : top + side, left : left + side] = 0
    return m


def my_missing_psnr(x, y, mask):
    """PSNR on the pixels the mask hides."""
    hidden = np.broadcast_to(np.asarray(mask) == 0, np.shape(x))
    return psnr(np.asarray(x)[hidden], np.asarray(y)[hidden])


#: model answer to the open exercise
OPEN = """\
Exercise 3 (90% missing). With only 10% of the pixels known, DIP needs many more steps (the loss sees few pixels,
and the network must draw almost everything), and a lower learning rate helps it stay stable, as the paper's
0.001 for restoration. Biharmonic interpolation turns into smooth blobs between the known pixels; DIP keeps edges
longer. Among the networks of section 4, the deeper ones fill the large empty areas better."""
