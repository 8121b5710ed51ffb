"""A two-block causal Transformer language model over the bundled text, against the
character LSTM of examples/sequences.py on the same held-out characters.

The walkthrough lives in the package (chainrule.tutorials.char_transformer); this
script runs it.

    python examples/char_transformer.py [--epochs 20] [--seed 0] [--quick] [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("char_transformer")
