"""Transfer learning on MNIST: learn digits 0-4, then reuse the features for 5-9.

The walkthrough lives in the package (chainrule.tutorials.transfer_learning); this script runs it.

    python examples/transfer_learning.py [--quick] [--epochs N] [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("transfer_learning")
