"""Solutions for notebook 05 (DIP denoising)."""

import numpy as np

CONCEPT_ANSWERS = (
    "Because only the noisy image enters the loss: the PSNR to it is the loss on another scale, so it rises as long "
    "as the loss falls. Once the image is drawn, the loss can only fall further by reproducing the noise, and every "
    "bit of noise reproduced is an error against the clean image, so the PSNR to the clean image falls.",  # 1
    "Random noise, drawn once (uniform in [0, 0.1)) and never changed: they hold nothing of the noisy image. The noisy "
    "image enters only through the loss, mean((f_theta(z) - y)^2), which the gradient steps reduce.",  # 2
    "To the noisy image y itself: the network has far more weights than the image has pixels and can reproduce any "
    "image, noise included. Its PSNR to the clean image then tends to the noisy input's own PSNR, about 20 dB at "
    "sigma 25.",  # 3
    "They compute the same function, but round differently (an eager loop, a compiled train_step and the engine's "
    "faster kernels); training amplifies such differences from step to step, so the curves drift apart a little while "
    "ending at about the same loss. The first steps agree to within rounding.",  # 4
    "Use it where no trained network fits the problem: an unusual degradation (a given mask, a blur or sampling "
    "nobody trained for), images unlike any training set (scientific or medical), or a single image where a learned "
    "prior might invent detail. Do not use it for everyday photographs with Gaussian noise: a trained denoiser or "
    "CBM3D is better by a dB or more and thousands of times faster. What decides it is whether training data and a "
    "trained model exist for this degradation, and whether minutes per image are affordable.",  # 5
)


def my_psnr_from_loss(losses):
    """PSNR in dB for each mean squared error in ``losses`` (images in [0, 1]): 10 log10(1 / loss)."""
    return 10 * np.log10(1 / np.asarray(losses, np.float64))


#: model answers to the open exercises
OPEN = """\
Exercise 2 (a noisier image). At sigma 50 the noisy input is a little less than 6 dB worse than at sigma 25 (the
noise's standard deviation doubles: 20 log10 2 = 6.0 dB, and clipping to [0, 1] removes a little more of the larger
noise). The network still draws the image before the noise, so the curve
still peaks and falls; the peak is lower in dB than at sigma 25 but further above the noisy input, and the fall
after it is larger, because there is more noise left to fit.

Exercise 3 (fewer channels). With 8 channels per scale the network has roughly a twelfth of the weights (the
channel-to-channel convolutions shrink 16-fold, the first layer and the skips only 4-fold): it fits
everything more slowly, the image and the noise. The peak comes later and the fall after it is gentler; the peak
itself is usually a little lower, because a smaller network draws fine texture less well. Fewer channels are a
weaker regulariser than stopping early, not a replacement for it."""
