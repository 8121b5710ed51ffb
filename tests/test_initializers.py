"""Initializers by Keras name: ranges, scales, orthogonality, seeding."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import initializers


def draw(name, shape, seed=0):
    cr.manual_seed(seed)
    return initializers.initialize(name, shape)


def test_fans_follow_keras():
    assert initializers.compute_fans((11, 6)) == (11, 6)
    assert initializers.compute_fans((5, 5, 3, 8)) == (75, 200)
    assert initializers.compute_fans((7,)) == (7, 7)


def test_uniform_is_keras_random_uniform():
    w = draw("uniform", (200, 200))
    assert w.dtype == np.float32
    assert -0.05 <= w.min() and w.max() <= 0.05 and w.max() > 0.049


def test_normal_has_keras_stddev():
    assert abs(draw("normal", (400, 400)).std() - 0.05) < 1e-3


@pytest.mark.parametrize("name,limit", [
    ("glorot_uniform", np.sqrt(6 / (300 + 200))), ("he_uniform", np.sqrt(6 / 300))])
def test_uniform_limits(name, limit):
    w = draw(name, (300, 200))
    assert w.max() <= limit and w.max() > 0.98 * limit and w.min() >= -limit


@pytest.mark.parametrize("name,std", [
    ("glorot_normal", np.sqrt(2 / (300 + 200))), ("he_normal", np.sqrt(2 / 300))])
def test_truncated_normals_have_the_keras_scale(name, std):
    w = draw(name, (300, 200))
    assert abs(w.std() - std) / std < 0.03
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize("shape", [(8, 8), (4, 12), (12, 4)])
def test_orthogonal(shape):
    w = draw("orthogonal", shape).astype(np.float64)
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    assert np.allclose(gram, np.eye(small), atol=1e-5)


def test_zeros_ones_and_seeding():
    assert not draw("zeros", (3,)).any() and draw("ones", (3,)).all()
    assert np.array_equal(draw("glorot_uniform", (5, 5), 3), draw("glorot_uniform", (5, 5), 3))
    assert not np.array_equal(draw("glorot_uniform", (5, 5), 3), draw("glorot_uniform", (5, 5), 4))


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="Unknown initializer 'xavier'.*glorot_uniform"):
        initializers.get("xavier")
