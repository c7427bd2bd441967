"""Solutions for notebook 02 (from neurons to CNNs)."""

#: relu(0.5 + 2 * 1.0 + (-1) * 3.0 + 0.5 * 4.0) = relu(1.5)
NEURON = 1.5
#: the first convolution of the paper's network: 3x3, 32 -> 128 channels, with bias
CONV_PARAMS = 3 * 3 * 32 * 128 + 128


#: model answer to the open exercise
OPEN = """\
Exercise 3 (too much regularisation). With lam = 0.1 the L2 penalty dominates the loss: the weights shrink
towards zero, the network becomes nearly linear around the origin and the decision regions turn into a few smooth,
broad zones that cannot follow the spirals; the training accuracy drops towards what a linear classifier gets.
The loss curve levels off high: the data term and the penalty pull against each other."""
