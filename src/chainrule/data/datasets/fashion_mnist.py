"""``cr.datasets.fashion_mnist.load_data()``: Keras' name for :func:`fetch_fashion_mnist`
(the same function): ``(x_train, y_train), (x_test, y_test)``, from the cache or the
checked download."""

from .remote import fetch_fashion_mnist as load_data

__all__ = ["load_data"]
