"""Backpropagation from scratch, the article's recipe, in plain Python loops.

The walkthrough lives in the package (chainrule.tutorials.backprop_by_hand); this script runs it.

    python examples/backprop_by_hand.py
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("backprop_by_hand")
