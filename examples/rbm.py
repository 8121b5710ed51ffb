"""A restricted Boltzmann machine learns MNIST digits without labels.

The walkthrough lives in the package (chainrule.tutorials.rbm); this script runs it.

    python examples/rbm.py [--out DIR] [--quick] [--epochs 20]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("rbm")
