"""A deep belief net: greedy RBM pretraining helps when labels are few.

The walkthrough lives in the package (chainrule.tutorials.dbn); this script runs it.

    python examples/dbn.py [--out DIR] [--quick]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("dbn")
