"""One neuron learns Celsius → Fahrenheit: F = 1.8 · C + 32.

The walkthrough lives in the package (chainrule.tutorials.celsius_neuron); this script runs it.

    python examples/celsius_neuron.py [--out DIR]
"""

from chainrule.tutorials import run_script

if __name__ == "__main__":
    run_script("celsius_neuron")
