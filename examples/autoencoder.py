"""Autoencoders compress MNIST digits to a small code and rebuild them.

The walkthrough lives in the package (chainrule.tutorials.autoencoder); this script runs it.

    python examples/autoencoder.py [--out DIR] [--quick] [--conv-epochs N]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("autoencoder")
