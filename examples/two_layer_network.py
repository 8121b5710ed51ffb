"""The two-layer network tutorial: XOR-like data, 4 sigmoid hidden units, no biases.

The walkthrough lives in the package (chainrule.tutorials.two_layer_network); this script runs it.

    python examples/two_layer_network.py [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("two_layer_network")
