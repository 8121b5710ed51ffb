"""A GAN learns to draw MNIST digits, scored by a classifier it never saw.

The walkthrough lives in the package (chainrule.tutorials.gan); this script runs it.

    python examples/gan.py [--out DIR] [--quick] [--epochs N]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("gan")
