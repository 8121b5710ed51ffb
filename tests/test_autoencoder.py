"""Autoencoder: fit(X) trains on X itself, encode/decode, denoising, conv variant."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
from chainrule.layers import Dense, GaussianNoise
from chainrule.models import Sequential
from chainrule.tutorials import autoencoder as autoencoder_walkthrough
from chainrule.unsupervised import Autoencoder


def digits():
    from sklearn.datasets import load_digits

    return (load_digits().data / 16).astype(np.float32)


def small_autoencoder(noise=0.0):
    first = [GaussianNoise(noise, input_shape=(64,))] if noise else []
    encoder = Sequential([*first, Dense(32, activation="relu", input_dim=64),
                          Dense(8, activation="relu")])
    decoder = Sequential([Dense(32, activation="relu", input_dim=8),
                          Dense(64, activation="sigmoid")])
    return Autoencoder(encoder, decoder)


def test_fit_without_targets_learns_to_reconstruct():
    X = digits()
    cr.manual_seed(0)
    ae = small_autoencoder()
    ae.compile(optimizer="adam", loss="mse")
    before = ae.evaluate(X[1400:])
    history = ae.fit(X[:1400], epochs=20, batch_size=32, verbose=0,
                     validation_data=X[1400:])
    after = ae.evaluate(X[1400:])
    assert set(history.history) == {"loss", "val_loss"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    # measured: 0.0293 after 20 epochs (seed 0); untrained 0.178
    assert after < 0.035 < before
    np.testing.assert_allclose(after, np.mean((ae.reconstruct(X[1400:]) - X[1400:]) ** 2),
                               rtol=1e-4)


def test_encode_decode_return_numpy_and_compose():
    X = digits()[:10]
    cr.manual_seed(0)
    ae = small_autoencoder()
    codes = ae.encode(X)
    assert isinstance(codes, np.ndarray) and codes.shape == (10, 8)
    out = ae.decode(codes)
    assert isinstance(out, np.ndarray) and out.shape == (10, 64)
    np.testing.assert_allclose(out, ae.reconstruct(X), rtol=1e-6)
    np.testing.assert_allclose(ae.predict(X), out, rtol=1e-6)


def test_denoising_noise_only_in_training_and_target_is_clean():
    X = digits()
    cr.manual_seed(0)
    ae = small_autoencoder(noise=0.5)
    codes = ae.encode(X[:5])
    np.testing.assert_array_equal(codes, ae.encode(X[:5]))  # no noise at inference
    ae.compile(optimizer="adam", loss="mse")
    ae.fit(X[:1400], epochs=20, batch_size=32, verbose=0)
    rng = np.random.default_rng(0)
    noisy = np.clip(X[1400:] + rng.normal(0, 0.5, X[1400:].shape), 0, 1).astype(np.float32)
    cleaned = ae.reconstruct(noisy)
    # the output is much closer to the clean digits than the noisy input was
    assert np.mean((cleaned - X[1400:]) ** 2) < 0.5 * np.mean((noisy - X[1400:]) ** 2)


def test_save_and_load_model_round_trip(tmp_path):
    X = digits()
    cr.manual_seed(0)
    ae = small_autoencoder(noise=0.1)
    ae.compile(optimizer="adam", loss="mse")
    ae.fit(X[:256], epochs=1, batch_size=32, verbose=0)
    ae.save(tmp_path / "ae.keras")
    loaded = cr.models.load_model(tmp_path / "ae.keras")
    assert isinstance(loaded, Autoencoder)
    np.testing.assert_array_equal(loaded.reconstruct(X[:20]), ae.reconstruct(X[:20]))
    loaded.fit(X[:64], epochs=1, batch_size=32, verbose=0)  # resumes training


def test_autoencoder_checks_its_arguments():
    with pytest.raises(TypeError, match="encoder"):
        Autoencoder(lambda x: x, Sequential([Dense(2)]))


def test_the_two_convolutional_decoders():
    settings = autoencoder_walkthrough.FULL
    layer_kinds = {decoder: [type(layer).__name__ for layer in autoencoder_walkthrough
                             .conv_autoencoder(settings, decoder).decoder.layers]
                   for decoder in ("upsampling", "transpose")}
    assert layer_kinds["upsampling"] == ["Dense", "Reshape", "UpSampling2D", "Conv2D",
                                         "UpSampling2D", "Conv2D"]
    assert layer_kinds["transpose"] == ["Dense", "Reshape", "Conv2DTranspose",
                                        "Conv2DTranspose", "Conv2D"]
    with pytest.raises(ValueError, match="decoder"):
        autoencoder_walkthrough.conv_autoencoder(settings, "pixel_shuffle")


def test_walkthrough_quick(tmp_path):
    result = autoencoder_walkthrough.main(out_dir=tmp_path, quick=True)
    # measured (seed 0): dense 0.0305, denoised 0.0450 vs noisy 0.115, conv 0.0309 with
    # the UpSampling2D decoder and 0.0283 with the Conv2DTranspose one
    assert_expected(autoencoder_walkthrough, result, quick=True)
    assert result["conv"]["test_mse"] < result["mean_image_mse"]
    assert result["denoising"]["denoised_mse"] < 0.5 * result["denoising"]["noisy_mse"]
    assert result["denoising"]["denoised_mse"] < result["denoising"]["plain_autoencoder_mse"]
    assert_plots(result, 2)


@pytest.mark.slow
def test_walkthrough_on_mnist():
    """MNIST: dense and denoising, 30 epochs each, and the convolutional one, 2 epochs."""
    assert_expected(autoencoder_walkthrough, autoencoder_walkthrough.main())


def test_tile_images_places_each_image_in_its_cell(tmp_path):
    from chainrule.unsupervised import save_image_grid, tile_images

    images = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3) / 30
    grid = tile_images(images, ncols=2, pad=1)
    assert grid.shape == (3 * 3 + 1, 2 * 4 + 1)
    np.testing.assert_array_equal(grid[1:3, 5:8], images[1])   # row 0, column 1
    np.testing.assert_array_equal(grid[7:9, 1:4], images[4])   # row 2, column 0
    np.testing.assert_array_equal(grid[7:9, 5:8], 0)           # the empty cell
    assert tile_images(images.reshape(5, 6)[:, :4]).shape == (4, 16)  # 5 rows of 2², one line
    pytest.importorskip("matplotlib")
    assert save_image_grid(images, tmp_path / "g.png").is_file()
