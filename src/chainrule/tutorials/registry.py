"""The walkthroughs, in the order ``chainrule demo`` runs them, and how to load one.

Each walkthrough is a module of this package with ``main(out_dir=None, quick=False,
verbose=False, ...) -> dict``; it is imported as an ordinary module, by a name
checked against this list, never found through the source tree or the current
directory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Walkthrough:
    """One walkthrough: its module ``name``, a ``title``, what it ``shows`` in a line,
    and its ``guide``, the page under ``docs/`` that explains it."""

    name: str
    title: str
    shows: str
    guide: str


WALKTHROUGHS: tuple[Walkthrough, ...] = (
    Walkthrough("two_layer_network", "A two-layer network by hand",
                "NumPy backprop = chainrule autograd = Sequential.fit",
                "tutorials/two_layer_network.md"),
    Walkthrough("celsius_neuron", "One neuron: Celsius to Fahrenheit",
                "hand-written MSE gradients = chainrule's", "tutorials/celsius_neuron.md"),
    Walkthrough("backprop_by_hand", "Backpropagation in plain loops",
                "the article's deltas, 3 transfers vs autograd",
                "tutorials/backprop_by_hand.md"),
    Walkthrough("computational_graph", "The computational graph",
                "g = (x + y)·z, the chain rule node by node", "tutorials/computational_graph.md"),
    Walkthrough("forward_propagation", "Forward propagation",
                "the guide's passes, by hand and with Dense", "tutorials/forward_propagation.md"),
    Walkthrough("churn", "Bank churn with Sequential (Keras style)",
                "the Keras tutorial's classifier, imports changed", "tutorials/churn.md"),
    Walkthrough("churn_functional", "Bank churn with two inputs (Functional API)",
                "numeric columns + an Embedding of Geography, Concatenate",
                "tutorials/churn_functional.md"),
    Walkthrough("regularization", "Overfitting and its remedies",
                "dropout, early stopping, augmentation on digits", "tutorials/regularization.md"),
    Walkthrough("vanishing_gradients", "Vanishing and exploding gradients",
                "ten layers: sigmoid, tanh, ReLU+He, with and without batch norm",
                "tutorials/vanishing_gradients.md"),
    Walkthrough("mnist_cnn", "A CNN on MNIST digits", "Conv2D + pooling vs an MLP, 8k/2k split",
                "vision_and_sequences.md"),
    Walkthrough("transfer_learning", "Transfer learning: digits 0-4 to 5-9",
                "freeze the features, pop() the head, add() a new one",
                "vision_and_sequences.md"),
    Walkthrough("word_embeddings", "Word embeddings and sentiment",
                "Embedding + mean pooling on graded tweets, nearest words",
                "tutorials/word_embeddings.md"),
    Walkthrough("char_transformer", "A character-level Transformer",
                "2 causal attention blocks vs the character LSTM, held-out loss",
                "tutorials/char_transformer.md"),
    Walkthrough("rbm", "A restricted Boltzmann machine",
                "CD-1 on binary digits vs scikit-learn's RBM", "unsupervised.md"),
    Walkthrough("dbn", "A deep belief net", "greedy RBM pretraining, fine-tuned on few labels",
                "unsupervised.md"),
    Walkthrough("autoencoder", "Autoencoders",
                "dense, denoising, convolutional (Conv2DTranspose); codes in 2-D",
                "tutorials/autoencoder.md"),
    Walkthrough("gan", "A GAN draws digits", "dense GAN, samples scored by a CNN",
                "unsupervised.md"),
)
NAMES = tuple(w.name for w in WALKTHROUGHS)


def get(name: str) -> Walkthrough:
    """The walkthrough called ``name`` (KeyError naming the choices otherwise)."""
    for w in WALKTHROUGHS:
        if w.name == name:
            return w
    raise KeyError(f"No walkthrough named {name!r}; choose from {list(NAMES)}.")


def load(name: str) -> ModuleType:
    """Import the walkthrough module ``name`` from this package (the name is checked)."""
    get(name)
    return importlib.import_module(f"{__package__}.{name}")
