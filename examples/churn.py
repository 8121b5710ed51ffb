"""The Keras tutorial's bank-churn classifier, with only the imports changed.

The walkthrough lives in the package (chainrule.tutorials.churn); this script runs it.

    python examples/churn.py [--epochs 50] [--seed 0] [--quick] [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("churn")
