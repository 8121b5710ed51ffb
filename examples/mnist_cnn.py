"""A LeNet-style convolutional net on real MNIST digits, with an MLP baseline.

The walkthrough lives in the package (chainrule.tutorials.mnist_cnn); this script runs it.

    python examples/mnist_cnn.py [--augment] [--quick] [--epochs N] [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("mnist_cnn")
