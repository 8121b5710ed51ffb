"""Vanishing and exploding gradients: ten layers, six configurations, measured layer by layer.

The walkthrough lives in the package (chainrule.tutorials.vanishing_gradients); this script runs it.

    python examples/vanishing_gradients.py [--out DIR] [--quick]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("vanishing_gradients")
