"""Forward propagation, the quick guide's way: multiply, add, activate, layer by layer.

The walkthrough lives in the package (chainrule.tutorials.forward_propagation); this script runs it.

    python examples/forward_propagation.py
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("forward_propagation")
