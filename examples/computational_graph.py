"""The computational-graph tutorial's worked example: g = (x + y) · z.

The walkthrough lives in the package (chainrule.tutorials.computational_graph); this script runs it.

    python examples/computational_graph.py [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("computational_graph")
