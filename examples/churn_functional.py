"""The bank-churn classifier as a two-input Functional model: standardised numeric
columns and a learned Embedding of Geography, merged with Concatenate.

The walkthrough lives in the package (chainrule.tutorials.churn_functional); this
script runs it. ``--compare`` also trains it and the one-hot Sequential of
examples/churn.py on seeds 0-6 and prints their test accuracies side by side.

    python examples/churn_functional.py [--epochs 50] [--seed 0] [--compare] [--quick] [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("churn_functional")
