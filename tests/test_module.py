"""Module and Parameter: registration, live parameter views, modes, freezing, state dicts."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.layers import Dense
from chainrule.module import Module, Parameter


class TwoLayer(Module):
    def __init__(self):
        self.hidden = Dense(4, activation="relu")
        self.out = Dense(2)
        self.scale = Parameter(np.ones(2, dtype=np.float32))

    def forward(self, x):
        return self.out(self.hidden(x)) * self.scale


def test_named_parameters_are_dotted_paths_and_the_view_is_live():
    model = TwoLayer()
    params = model.parameters()
    assert [n for n, _ in model.named_parameters()] == ["scale"]  # Dense layers not built yet
    model(np.ones((3, 5)))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["scale", "hidden.kernel", "hidden.bias", "out.kernel", "out.bias"]
    assert len(params) == 5 and all(isinstance(p, Parameter) for p in params)


def test_shared_parameters_are_listed_once():
    model = TwoLayer()
    model(np.ones((1, 5)))
    model.alias = model.out  # the same module under two names
    assert len(list(model.parameters())) == 5


def test_train_and_eval_reach_every_submodule():
    model = TwoLayer()
    model.eval()
    assert not model.training and not model.hidden.training
    model.train()
    assert model.out.training


def test_trainable_false_freezes_every_parameter_below_including_later_builds():
    model = TwoLayer()
    model.hidden.trainable = False
    model(np.ones((1, 5)))
    assert not model.hidden.kernel.requires_grad and model.out.kernel.requires_grad
    model.trainable = False
    assert not any(p.requires_grad for p in model.parameters())
    model.trainable = True
    assert all(p.requires_grad for p in model.parameters())


def test_state_dict_round_trip_copies_values():
    cr.manual_seed(0)
    a = TwoLayer()
    a(np.ones((1, 5)))
    cr.manual_seed(1)
    b = TwoLayer()
    b(np.ones((1, 5)))
    state = a.state_dict()
    state["out.bias"][:] = 7  # a copy: the model is not changed through it
    assert not np.allclose(a.out.bias.numpy(), 7)
    b.load_state_dict(state)
    assert np.allclose(b.out.bias.numpy(), 7)
    assert np.array_equal(b.hidden.kernel.numpy(), a.hidden.kernel.numpy())


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    model = TwoLayer()
    model(np.ones((1, 5)))
    state = model.state_dict()
    del state["out.bias"]
    state["extra.weight"] = np.zeros(3)
    state["hidden.kernel"] = np.zeros((6, 4))
    with pytest.raises(ValueError) as err:
        model.load_state_dict(state)
    message = str(err.value)
    assert "missing keys ['out.bias']" in message
    assert "unexpected keys ['extra.weight']" in message
    assert "hidden.kernel: expected (5, 4), got (6, 4)" in message


def test_buffers_are_in_the_state_dict_but_not_parameters():
    from chainrule.layers import BatchNormalization

    layer = BatchNormalization()
    layer(np.random.default_rng(0).standard_normal((8, 3)))
    names = [n for n, _ in layer.named_parameters()]
    assert "moving_mean" not in names
    assert {"moving_mean", "moving_variance"} <= set(layer.state_dict())


def test_parameters_require_grad_and_zero_grad_clears():
    model = TwoLayer()
    out = model(np.ones((2, 5)))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_get_and_set_weights_follow_keras():
    layer = Dense(2, input_dim=3)
    assert [w.shape for w in layer.get_weights()] == [(3, 2), (2,)]
    layer.set_weights([np.ones((3, 2)), np.full(2, 0.5)])
    assert np.array_equal(layer(np.ones((1, 3))).numpy(), [[3.5, 3.5]])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        layer.set_weights([np.ones((3, 2))])


def test_automatic_names_are_keras_snake_case():
    from chainrule.layers import Conv2D, MaxPooling2D

    assert Conv2D(1, 1).name.startswith("conv2d")
    assert MaxPooling2D().name.startswith("max_pooling2d")
