"""Solutions for notebook 02 (from neurons to CNNs)."""

CONCEPT_ANSWERS = (
    "Without a non-linear activation each layer is an affine map x W + b, and a composition of affine maps is "
    "affine: (x W_1 + b_1) W_2 + b_2 = x (W_1 W_2) + (b_1 W_2 + b_2). However many layers, the network computes "
    "what one layer with W = W_1 W_2 ... and the matching bias computes.",  # 1
    "The CNN's weights are its kernels (3x3 for each input/output channel pair) and biases, shared by every pixel: "
    "a larger image changes how often they are applied, not how many there are (the upsamplings have no weights). "
    "The dense network's last layer has (hidden + 1) parameters for every pixel, so its count grows with the "
    "image: 7 x 4,096 = 28,672 at 64x64, 1,835,008 at 512x512, where its 262,144 biases alone exceed the CNN's "
    "28,033: no width would match it.",  # 2
    "Picking the best PSNR needs the clean image, and a real denoiser only has the noisy y. What is left to decide "
    "is when to stop the fit, from y alone (or from another rule that does not need x): notebook 06.",  # 3
    "After a stride-2 convolution, neighbouring pixels of its output are 2 pixels of z apart. A 3x3 kernel reaches "
    "one pixel further on each side, so it adds (3 - 1) * 2 = 4 pixels of z along a side: 3 + 4 = 7 at the first "
    "scale.",  # 4
)

#: relu(0.5 + 2 * 1.0 + (-1) * 3.0 + 0.5 * 4.0) = relu(1.5)
NEURON = 1.5
#: the first convolution of the paper's network: 3x3, 32 -> 128 channels, with bias
CONV_PARAMS = 3 * 3 * 32 * 128 + 128


#: model answer to the open exercise
OPEN = """\
Exercise 3 (too much regularisation). With LAM = 0.1 the penalty LAM * (sum of the squared kernel weights) is far
larger than the data term, and the two networks answer very differently.

The CNN: shrinking every kernel towards zero lowers the loss more than fitting y does, so the regulariser wins. With
its kernels near zero the network's output is the sigmoid of its last bias: one flat grey image. Its best PSNR falls
to about that of a grey image (about 11 dB in the cpu profile, against about 25 dB with LAM = 1e-5) and its data
term stays high, near the variance of y (about 0.08).

The dense network: the penalty shrinks its kernels too, but the biases of its last layer are not penalised, and
there is one for every pixel: on their own they go on fitting each pixel of y, noise included. Its output climbs
steadily towards the noisy y, only more slowly than with the kernels' help (in the cpu profile its PSNR is still
rising at the last step, about 19.4 dB, and its data term still falling). A penalty on the size of the weights says
nothing about how neighbouring pixels relate, so it cannot tell the image from the noise: too much of it stops a
network from fitting anything (the CNN), or, where some parameters escape it, only slows the fit of the noise (the
dense network). The regulariser that helps is the structure of the CNN."""
