"""Remedies for overfitting on real data: dropout, early stopping, data augmentation.

The walkthrough lives in the package (chainrule.tutorials.regularization); this script runs it.

    python examples/regularization.py [--out DIR] [--quick]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("regularization")
