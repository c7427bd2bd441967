"""Solutions for notebook 02 (from neurons to CNNs)."""

#: relu(0.5 + 2 * 1.0 + (-1) * 3.0 + 0.5 * 4.0) = relu(1.5)
NEURON = 1.5
#: the first convolution of the paper's network: 3x3, 32 -> 128 channels, with bias
CONV_PARAMS = 3 * 3 * 32 * 128 + 128
