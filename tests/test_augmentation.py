"""Augmentation layers: identity in eval, seeded in training, exact pixel moves, gradients."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.layers import GaussianNoise, RandomFlip, RandomTranslation

NP_PAD_MODE = {"reflect": "symmetric", "nearest": "edge", "wrap": "wrap"}


def images(shape=(8, 6, 7, 2), seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def reference_translate(img, dy, dx, fill_mode, fill_value=0.0):
    """One (H, W, C) image shifted down dy and right dx, through np.pad's modes."""
    h, w, _ = img.shape
    pad = ((h, h), (w, w), (0, 0))
    if fill_mode == "constant":
        padded = np.pad(img, pad, mode="constant", constant_values=fill_value)
    else:
        padded = np.pad(img, pad, mode=NP_PAD_MODE[fill_mode])
    return padded[h - dy:2 * h - dy, w - dx:2 * w - dx]


# ---------------------------------------------------------------- common behaviour

LAYERS = [
    lambda: RandomTranslation(0.3, 0.3),
    lambda: RandomTranslation((-0.2, 0.4), 0.0, fill_mode="constant", fill_value=-1.0),
    lambda: RandomFlip("horizontal"),
    lambda: RandomFlip("vertical"),
    lambda: RandomFlip(),
    lambda: GaussianNoise(0.1),
]
IDS = ["translate", "translate_constant", "flip_h", "flip_v", "flip_hv", "noise"]


@pytest.mark.parametrize("make", LAYERS, ids=IDS)
def test_identity_in_eval(make):
    x = images()
    np.testing.assert_array_equal(make().eval()(x).data, x.astype(np.float32))


@pytest.mark.parametrize("make", LAYERS, ids=IDS)
def test_active_and_reproducible_in_training(make):
    x = images().astype(np.float32)
    layer = make()
    cr.manual_seed(0)
    first = layer(x).data
    cr.manual_seed(0)
    again = layer(x).data
    third = layer(x).data
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, x), "the layer did nothing in training"
    assert not np.array_equal(again, third), "two draws in a row gave the same augmentation"
    assert first.shape == x.shape and first.dtype == np.float32


@pytest.mark.parametrize("make", LAYERS, ids=IDS)
def test_get_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_layer_seed_gives_its_own_reproducible_stream():
    x = images().astype(np.float32)
    a = RandomFlip(seed=3)(x).data
    cr.manual_seed(123)  # the global generator does not affect a seeded layer
    b = RandomFlip(seed=3)(x).data
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- RandomTranslation


@pytest.mark.parametrize("fill_mode,expected", [
    ("constant", [9, 9, 1, 2]),
    ("reflect", [2, 1, 1, 2]),
    ("nearest", [1, 1, 1, 2]),
    ("wrap", [3, 4, 1, 2]),
])
def test_translation_by_hand(fill_mode, expected):
    """The row [1 2 3 4] shifted right by 2 pixels, and its transpose shifted down by 2."""
    layer = RandomTranslation(0.5, 0.5, fill_mode=fill_mode, fill_value=9.0)
    row = np.array([1.0, 2, 3, 4]).reshape(1, 1, 4, 1)
    right = layer.translate(cr.tensor(row), np.array([0]), np.array([2]))
    np.testing.assert_array_equal(right.data.ravel(), expected)
    column = row.reshape(1, 4, 1, 1)
    down = layer.translate(cr.tensor(column), np.array([2]), np.array([0]))
    np.testing.assert_array_equal(down.data.ravel(), expected)
    left = layer.translate(cr.tensor(row[:, :, ::-1].copy()), np.array([0]), np.array([-2]))
    np.testing.assert_array_equal(left.data.ravel(), expected[::-1])


@pytest.mark.parametrize("fill_mode", ["constant", "reflect", "nearest", "wrap"])
def test_translation_matches_np_pad(fill_mode):
    x = images((5, 4, 6, 2))
    dy, dx = np.array([0, 1, -3, 4, -4]), np.array([2, -6, 5, 0, -1])
    layer = RandomTranslation(1.0, 1.0, fill_mode=fill_mode, fill_value=0.5)
    y = layer.translate(cr.tensor(x), dy, dx)
    expected = np.stack([reference_translate(x[k], dy[k], dx[k], fill_mode, 0.5)
                         for k in range(len(x))])
    np.testing.assert_array_equal(y.data, expected)


def test_training_draws_the_keras_shift():
    """A factor range of one point, (lo, lo), shifts every sample by round(lo * size)."""
    x = images((4, 8, 10, 1))
    y = RandomTranslation((0.25, 0.25), (-0.3, -0.3), fill_mode="wrap")(x)
    np.testing.assert_array_equal(y.data, np.roll(x, (2, -3), axis=(1, 2)).astype(np.float32))


def test_training_shifts_stay_within_the_factor():
    cr.manual_seed(1)
    x = np.zeros((200, 10, 1, 1))
    x[:, 0] = 1.0  # a marker in row 0 shows the vertical shift
    y = RandomTranslation(0.2, 0.0, fill_mode="constant")(x).data
    shifts = np.argmax(y[:, :, 0, 0], axis=1)[y[:, :, 0, 0].max(axis=1) > 0]
    assert set(shifts) == {0, 1, 2}  # U(-0.2, 0.2) * 10 rounds to -2..2; up-shifts lose it


def test_translation_gradient():
    x = cr.tensor(images((2, 4, 3, 2)), requires_grad=True)
    layer = RandomTranslation(1.0, 1.0, fill_mode="wrap")
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones(x.shape))  # wrap: a permutation
    for fill_mode in ("reflect", "constant"):
        translate = RandomTranslation(1.0, 1.0, fill_mode=fill_mode).translate
        cr.gradcheck(lambda t, f=translate: f(t, np.array([1, -2]), np.array([2, 0])),
                     cr.tensor(images((2, 4, 3, 2)), requires_grad=True))


def test_translation_errors():
    with pytest.raises(ValueError, match="`height_factor` of `RandomTranslation`"):
        RandomTranslation(1.5, 0.1)
    with pytest.raises(ValueError, match="`width_factor`"):
        RandomTranslation(0.1, (0.3, -0.3))
    with pytest.raises(ValueError, match="`fill_mode`"):
        RandomTranslation(0.1, 0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="`interpolation`"):
        RandomTranslation(0.1, 0.1, interpolation="bilinear")
    with pytest.raises(ValueError, match=r"\(N, H, W, C\); received shape \(4, 4\)"):
        RandomTranslation(0.1, 0.1)(np.ones((4, 4)))


# ---------------------------------------------------------------- RandomFlip


@pytest.mark.parametrize("mode,choices", [
    ("horizontal", [lambda im: im, lambda im: im[:, ::-1]]),
    ("vertical", [lambda im: im, lambda im: im[::-1]]),
    ("horizontal_and_vertical", [lambda im: im, lambda im: im[:, ::-1], lambda im: im[::-1],
                                 lambda im: im[::-1, ::-1]]),
])
def test_random_flip_flips(mode, choices):
    cr.manual_seed(2)
    x = images((32, 5, 6, 2)).astype(np.float32)
    y = RandomFlip(mode)(x).data
    used = set()
    for k in range(len(x)):
        matches = [i for i, f in enumerate(choices) if np.array_equal(y[k], f(x[k]))]
        assert len(matches) == 1, f"sample {k} is not a {mode} flip of its input"
        used.add(matches[0])
    assert used == set(range(len(choices)))  # every option appears over 32 samples


def test_random_flip_gradient_and_errors():
    x = cr.tensor(images((4, 3, 3, 1)), requires_grad=True)
    RandomFlip()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones(x.shape))
    with pytest.raises(ValueError, match="`mode` of `RandomFlip`"):
        RandomFlip("diagonal")


# ---------------------------------------------------------------- GaussianNoise


def test_gaussian_noise_statistics():
    cr.manual_seed(3)
    x = np.full((200, 1000), 5.0, dtype=np.float32)
    noise = GaussianNoise(0.3)(x).data - x
    assert noise.dtype == np.float32
    assert abs(noise.std() - 0.3) < 0.003  # 200,000 draws: std error of the std ~5e-4
    assert abs(noise.mean()) < 0.003


def test_gaussian_noise_gradient_and_inputs():
    x = cr.tensor(images((3, 4)), requires_grad=True)
    GaussianNoise(1.0)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones(x.shape))
    y = GaussianNoise(1.0)(np.zeros((2, 2), dtype=np.uint8))
    assert y.dtype == cr.get_default_dtype()
    with pytest.raises(ValueError, match="`stddev` of `GaussianNoise`"):
        GaussianNoise(-1.0)
