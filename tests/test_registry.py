"""The one registry helper behind every lookup by name, and its one error message."""

import pytest

import chainrule as cr
from chainrule import activations, initializers, losses, metrics, optim
from chainrule.layers import LAYER_REGISTRY, deserialize_layer
from chainrule.registry import Registry


class Widget:
    pass


def test_names_aliases_class_names_and_case():
    registry = Registry("widget", {"widget": Widget, "w": Widget})
    assert registry.lookup("widget") is Widget and registry.lookup("w") is Widget
    assert registry.lookup("Widget") is Widget  # a class is also found by its class name
    assert registry.lookup("W") is Widget  # then in lower case
    assert registry.names() == ["w", "widget"]  # class names are accepted, not listed
    assert "widget" in registry and "gadget" not in registry and len(registry) == 2
    assert registry.name_of(Widget) == "widget" and registry.name_of(object) is None
    assert registry.find("gadget") is None and registry.find(3) is None


def test_add_and_register_default_to_the_objects_name():
    registry = Registry("function")

    @registry.register()
    def double(x):
        return 2 * x

    assert registry.add(abs) is abs
    assert registry.names() == ["abs", "double"] and registry.lookup("double")(2) == 4


def test_unknown_names_say_what_was_asked_and_what_exists():
    registry = Registry("widget", {"widget": Widget}, hint="(or pass a Widget)")
    with pytest.raises(ValueError, match=r"^Unknown widget 'gadget'; choose one of "
                                         r"\['widget'\] \(or pass a Widget\)\.$"):
        registry.lookup("gadget")


@pytest.mark.parametrize("get,kind,name", [
    (activations.get, "activation", "relu"),
    (initializers.get, "initializer", "glorot_uniform"),
    (losses.get, "loss", "mse"),
    (metrics.get, "metric", "accuracy"),
    (optim.get, "optimizer", "adam"),
])
def test_every_get_uses_the_one_message(get, kind, name):
    with pytest.raises(ValueError, match=rf"^Unknown {kind} 'nope'; choose one of \[.*'{name}'"):
        get("nope")


def test_layers_and_registered_models_share_one_registry():
    assert LAYER_REGISTRY.lookup("Dense") is cr.layers.Dense
    assert LAYER_REGISTRY.lookup("Sequential") is cr.models.Sequential
    assert LAYER_REGISTRY.lookup("Autoencoder") is cr.unsupervised.Autoencoder
    with pytest.raises(cr.io.ModelFormatError, match="unknown layer class 'Nope'"):
        deserialize_layer({"class_name": "Nope", "config": {}})


def test_get_builds_losses_and_metrics_the_same_way():
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    assert metrics.get("acc").name == "acc" and metrics.get("AUC").name == "auc"
    assert metrics.get({"class_name": "Precision", "config": {"name": "p"}}).name == "p"
    assert losses.get(lambda t, p: (p - t) ** 2).name == "<lambda>"
    for get, kind in ((losses.get, "loss"), (metrics.get, "metric")):
        with pytest.raises(TypeError, match=f"Cannot interpret 3 as a {kind}"):
            get(3)
        with pytest.raises(ValueError, match="`config` must be a dict"):
            get({"class_name": "Huber", "config": [1]})
