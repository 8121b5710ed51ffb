"""Data sets: ``cr.datasets`` (also ``cr.data.datasets``).

* built in code: ``xor()``, ``celsius()``;
* shipped with the package and checked by sha256 on read: ``load_churn()``,
  ``load_mnist()`` (MNIST's 10,000-image test release), ``chain_rule_text()``;
* downloaded once into a cache and checked: ``fetch_mnist()``,
  ``fetch_fashion_mnist()``, ``fetch_cifar10()`` (see :func:`chainrule.io.get_file`);
  with Keras' names ``mnist.load_data()`` and ``fashion_mnist.load_data()``.
"""

from . import fashion_mnist, mnist
from .bundled import BUNDLED, chain_rule_text, read_bundled
from .churn import CHURN_FEATURES, load_churn
from .idx import load_mnist, parse_idx
from .remote import fetch_cifar10, fetch_fashion_mnist, fetch_mnist
from .synthetic import celsius, xor

__all__ = ["BUNDLED", "CHURN_FEATURES", "celsius", "chain_rule_text", "fashion_mnist",
           "fetch_cifar10", "fetch_fashion_mnist", "fetch_mnist", "load_churn", "load_mnist",
           "mnist", "parse_idx", "read_bundled", "xor"]
