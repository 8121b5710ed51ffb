"""GAN: alternating updates, a frozen discriminator in the generator step, finite
losses per epoch, generate's shape and range."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected

import chainrule as cr
from chainrule.callbacks import History
from chainrule.generative import GAN
from chainrule.layers import Dense
from chainrule.models import Sequential
from chainrule.optim import SGD, Adam
from chainrule.tutorials import gan as gan_walkthrough


def digits():
    from sklearn.datasets import load_digits

    return (load_digits().data / 8 - 1).astype(np.float32)  # [-1, 1], tanh range


def small_gan(lazy: bool = False, **kwargs):
    """4 -> 32 -> 64 generator, 64 -> 32 -> 1 discriminator; with ``lazy`` the second
    layers are built on their first call (inside the training steps)."""
    built = {} if lazy else {"input_dim": 32}
    generator = Sequential([Dense(32, activation="leaky_relu", input_dim=4),
                            Dense(64, activation="tanh", **built)])
    discriminator = Sequential([Dense(32, activation="leaky_relu", input_dim=64),
                                Dense(1, **built)])
    return GAN(generator, discriminator, latent_dim=4, **kwargs)


def snapshot(module):
    return [p.numpy().copy() for p in module.parameters()]


def changed(before, module):
    return any(not np.array_equal(a, p.numpy()) for a, p in zip(before, module.parameters()))


def test_default_optimizers_are_dcgan_adam():
    gan = small_gan()
    for opt in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(opt, Adam) and opt.lr == 2e-4 and opt.betas == (0.5, 0.999)
    assert {id(p) for p in gan.d_optimizer.params} == {
        id(p) for p in gan.discriminator.parameters()}
    assert {id(p) for p in gan.g_optimizer.params} == {id(p) for p in gan.generator.parameters()}


@pytest.mark.parametrize("lazy", [False, True])
def test_generator_step_leaves_the_discriminator_frozen_and_untouched(lazy):
    cr.manual_seed(0)
    gan = small_gan(lazy=lazy)
    gan.generator(np.zeros((1, 4), np.float32))
    d_before, g_before = snapshot(gan.discriminator), snapshot(gan.generator)
    gan.generator_step(16)
    assert not changed(d_before, gan.discriminator) and changed(g_before, gan.generator)
    assert all(p.grad is None for p in gan.discriminator.parameters())
    # unfrozen afterwards, including weights a lazy layer created during the step
    assert len(gan.discriminator.parameters()) == 4
    assert all(p.requires_grad for p in gan.discriminator.parameters())


def test_generator_step_keeps_layers_the_user_froze_frozen():
    cr.manual_seed(0)
    gan = small_gan()
    gan.discriminator.layers[0].trainable = False
    gan.generator_step(8)
    assert gan.discriminator.layers[0].trainable is False
    assert not gan.discriminator.layers[0].kernel.requires_grad
    assert gan.discriminator.layers[1].kernel.requires_grad


def test_discriminator_step_moves_only_the_discriminator():
    cr.manual_seed(0)
    gan = small_gan()
    d_before, g_before = snapshot(gan.discriminator), snapshot(gan.generator)
    loss = gan.discriminator_step(digits()[:16])
    assert np.isfinite(loss) and loss > 0
    assert changed(d_before, gan.discriminator) and not changed(g_before, gan.generator)


def test_losses_match_bce_with_logits_by_hand():
    """d_loss = BCE(D(x), 1) + BCE(D(G(z)), 0); g_loss = -mean log σ(D(G(z'))),
    checked with plain SGD of lr 0 so nothing moves between the two evaluations."""
    cr.manual_seed(3)
    gan = small_gan(d_optimizer=SGD(lr=0.0), g_optimizer=SGD(lr=0.0))
    real = digits()[:8]
    cr.manual_seed(9)
    logs = gan.train_step(real)
    cr.manual_seed(9)
    z1, z2 = gan.sample_latent(8), gan.sample_latent(8)

    def logits(x):
        return gan.discriminator(x).numpy()[:, 0].astype(np.float64)

    def softplus(x):
        return np.logaddexp(0, x)

    gan.eval()  # no dropout here anyway; make the hand computation deterministic
    fake1, fake2 = gan.generator(z1).numpy(), gan.generator(z2).numpy()
    want_d = softplus(-logits(real)).mean() + softplus(logits(fake1)).mean()
    want_g = softplus(-logits(fake2)).mean()
    np.testing.assert_allclose([logs["d_loss"], logs["g_loss"]], [want_d, want_g], rtol=1e-5)


def test_fit_history_is_finite_every_epoch_and_generate_has_shape_and_range():
    cr.manual_seed(0)
    gan = small_gan()
    history = gan.fit(digits(), epochs=4, batch_size=64, verbose=0)
    assert isinstance(history, History)
    assert set(history.history) == {"d_loss", "g_loss"}
    for key in ("d_loss", "g_loss"):
        assert len(history.history[key]) == 4 and np.all(np.isfinite(history.history[key]))
    samples = gan.generate(10)
    assert isinstance(samples, np.ndarray) and samples.shape == (10, 64)
    assert samples.dtype == np.float32 and samples.min() >= -1 and samples.max() <= 1
    z = gan.sample_latent(3)
    np.testing.assert_array_equal(gan.generate(3, z=z), gan.generate(3, z=z))


def test_fit_is_reproducible_with_a_seed():
    runs = []
    for _ in range(2):
        cr.manual_seed(42)
        gan = small_gan()
        runs.append(gan.fit(digits()[:256], epochs=2, batch_size=32, verbose=0).history)
    assert runs[0] == runs[1]


def test_errors_name_the_problem():
    cr.manual_seed(0)
    with pytest.raises(ValueError, match="latent_dim"):
        small_gan().__class__(Sequential([Dense(2)]), Sequential([Dense(1)]), 0)
    two_logits = GAN(Sequential([Dense(64, input_dim=4)]),
                     Sequential([Dense(2, input_dim=64)]), 4)
    with pytest.raises(ValueError, match=r"one logit per sample.*\(8, 2\)"):
        two_logits.discriminator_step(digits()[:8])
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        small_gan().generate(2, z=np.zeros((2, 5)))
    with pytest.raises(ValueError, match="batch_size"):
        small_gan().fit(digits()[:10], batch_size=64, verbose=0)


def test_walkthrough_quick(tmp_path):
    result = gan_walkthrough.main(out_dir=tmp_path, quick=True)
    assert_expected(gan_walkthrough, result, quick=True)
    assert result["epochs_run"] == gan_walkthrough.QUICK["epochs"]
    assert np.all(np.isfinite(result["d_loss"])) and np.all(np.isfinite(result["g_loss"]))
    assert len(list((tmp_path / "gan_samples").glob("gan_epoch_*.png"))) in (0, 20)


@pytest.mark.slow
def test_walkthrough_on_mnist():
    """40 epochs (measured: 10 classes, mean confidence 0.79, in 68 s with the scoring
    CNN); the 100-epoch run's numbers are in docs/unsupervised.md."""
    result = gan_walkthrough.main()
    assert_expected(gan_walkthrough, result)
    assert np.all(np.isfinite(result["d_loss"])) and np.all(np.isfinite(result["g_loss"]))
