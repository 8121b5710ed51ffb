"""``import chainrule as keras``: Keras' names are chainrule's own objects; Keras' optimizer
arguments and defaults; ``keras.utils`` against Keras' documented examples;
``keras.datasets.mnist.load_data()``; and the keras-io "Simple MNIST convnet"."""

import gzip
import os
import random
import socket
import stat
import warnings

import numpy as np
import pytest
from test_download import LoopbackServer, mnist_npz, sha256

import chainrule as cr
import chainrule as keras
from chainrule import layers
from chainrule.data.datasets import remote

# ---------------------------------------------------------------- names


@pytest.mark.parametrize("keras_name,home", [
    ("Sequential", cr.models.Sequential), ("Model", cr.models.Model),
    ("Input", cr.layers.Input), ("layers", cr.layers), ("losses", cr.losses),
    ("metrics", cr.metrics), ("callbacks", cr.callbacks),
    ("initializers", cr.initializers), ("activations", cr.activations),
    ("regularizers", cr.regularizers), ("constraints", cr.constraints),
    ("utils", cr.utils), ("datasets", cr.data.datasets),
])
def test_keras_names_are_chainrule_objects(keras_name, home):
    assert getattr(keras, keras_name) is home


def test_keras_functions_are_aliases_not_copies():
    assert keras.utils.get_file is cr.io.get_file
    assert keras.datasets.mnist.load_data is cr.datasets.fetch_mnist
    assert keras.datasets.fashion_mnist.load_data is cr.datasets.fetch_fashion_mnist
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        assert getattr(keras.optimizers, name).__mro__[1] is getattr(cr.optim, name)


# ---------------------------------------------------------------- optimizers


def test_optimizers_take_keras_arguments_and_defaults():
    adam = keras.optimizers.Adam()
    assert (adam.lr, adam.betas, adam.eps, adam.weight_decay) == (1e-3, (0.9, 0.999), 1e-7, 0)
    assert keras.optimizers.Adam(1e-2, beta_1=0.5, epsilon=1e-6).get_config() == \
        cr.optim.Adam(lr=1e-2, betas=(0.5, 0.999), eps=1e-6).get_config()
    assert keras.optimizers.SGD().lr == 0.01
    sgd = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    assert (sgd.lr, sgd.momentum, sgd.nesterov) == (0.1, 0.9, True)
    rms = keras.optimizers.RMSprop(rho=0.8)
    assert (rms.lr, rms.alpha, rms.eps, rms.centered) == (1e-3, 0.8, 1e-7, False)
    ada = keras.optimizers.Adagrad()
    assert (ada.lr, ada.initial_accumulator_value, ada.eps) == (1e-3, 0.1, 1e-7)
    adamw = keras.optimizers.AdamW()
    assert (adamw.weight_decay, adamw.eps) == (0.004, 1e-7)
    for name, cls in cr.optim.OPTIMIZERS._objects.items():  # the same as compile's names
        if name.islower():
            assert getattr(keras.optimizers, cls.__name__)().get_config() == \
                cr.optim.get(name).get_config()


def one_step(optimizer) -> np.ndarray:
    w = cr.Parameter(np.array([1.0, -2.0, 3.0]))
    w.grad = cr.tensor(np.array([0.5, 0.5, -1.0]))
    optimizer.attach([w])
    for _ in range(3):
        optimizer.step()
    return w.numpy()


def test_keras_adam_weight_decay_is_decoupled_as_in_keras(torch):
    """Keras' weight_decay subtracts lr * weight_decay * w before the step: torch's
    Adam(decoupled_weight_decay=True), i.e. AdamW."""
    ours = one_step(keras.optimizers.Adam(0.1, weight_decay=0.2))
    w = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1, eps=1e-7, weight_decay=0.2,
                           decoupled_weight_decay=True)
    for _ in range(3):
        w.grad = torch.tensor([0.5, 0.5, -1.0], dtype=torch.float64)
        opt.step()
    np.testing.assert_allclose(ours, w.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours, one_step(cr.optim.AdamW(lr=0.1, eps=1e-7,
                                                             weight_decay=0.2)), rtol=1e-15)


def test_keras_sgd_weight_decay_where_keras_and_torch_agree():
    """Without momentum p -= lr (g + wd p) either way; with momentum they differ, so
    chainrule refuses rather than train differently from Keras."""
    np.testing.assert_allclose(one_step(keras.optimizers.SGD(0.1, weight_decay=0.3)),
                               one_step(cr.optim.SGD(lr=0.1, weight_decay=0.3)), rtol=1e-15)
    with pytest.raises(ValueError, match=r"SGD\(weight_decay=...\) is Keras' decoupled decay"):
        keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.3)
    with pytest.raises(ValueError, match=r"RMSprop\(weight_decay=...\)"):
        keras.optimizers.RMSprop(weight_decay=0.1)


def test_arguments_that_change_updates_are_refused_and_harmless_ones_warned():
    with pytest.raises(ValueError, match=r"does not support the Keras argument\(s\) "
                                         r"\['clipnorm'\]"):
        keras.optimizers.Adam(clipnorm=1.0)
    assert keras.optimizers.Adam(clipnorm=None).lr == 1e-3  # Keras' default: nothing to do
    with pytest.warns(UserWarning, match=r"keras.optimizers.SGD ignores \['name'\]"):
        keras.optimizers.SGD(name="my_sgd")


def test_a_keras_optimizer_trains_saves_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 1))
    cr.manual_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3, activation="relu"),
                              layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.zip")
    loaded = cr.models.load_model(tmp_path / "m.zip")
    assert type(loaded.optimizer) is cr.optim.Adam  # its parent, same hyperparameters
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compile_ignores_keras_execution_settings_with_a_warning():
    model = keras.Sequential([layers.Dense(1, input_dim=2)])
    with pytest.warns(UserWarning, match=r"compile ignores \['jit_compile', 'run_eagerly'\]"):
        model.compile(optimizer="adam", loss="mse", jit_compile=True, run_eagerly=False)
    with pytest.raises(TypeError, match=r"compile got unexpected argument\(s\) \['lossy'\]"):
        model.compile(optimizer="adam", lossy="mse")


# ---------------------------------------------------------------- utils


def test_to_categorical_matches_keras_documented_example():
    a = keras.utils.to_categorical([0, 1, 2, 3], num_classes=4)
    np.testing.assert_array_equal(a, np.eye(4))
    assert a.dtype == np.float32
    b = np.array([.9, .04, .03, .03, .3, .45, .15, .13, .04, .01, .94, .05, .12, .21, .5,
                  .17]).reshape(4, 4)
    loss = keras.losses.CategoricalCrossentropy()
    per_sample = [float(loss(a[i:i + 1], b[i:i + 1]).data) for i in range(4)]
    np.testing.assert_array_equal(np.around(per_sample, 5), [0.10536, 0.82807, 0.1011, 1.77196])


def test_to_categorical_shapes_and_errors():
    assert keras.utils.to_categorical(np.array([[2], [0]])).tolist() == [[0, 0, 1],
                                                                        [1, 0, 0]]
    assert keras.utils.to_categorical(np.array([[1, 0]]), 2).shape == (1, 2, 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes = 3\); "
                                         r"received 3"):
        keras.utils.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="integer class labels; received values such as 0.5"):
        keras.utils.to_categorical([0.5, 1.0])


def test_pad_sequences_matches_keras_documented_examples():
    sequence = [[1], [2, 3], [4, 5, 6]]
    pad = keras.utils.pad_sequences
    assert pad(sequence).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad(sequence).dtype == np.int32
    assert pad(sequence, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad(sequence, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad(sequence, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]


def test_pad_sequences_truncating_dtypes_and_errors():
    pad = keras.utils.pad_sequences
    assert pad([[1, 2, 3], []], maxlen=2, truncating="post").tolist() == [[1, 2], [0, 0]]
    assert pad([[1.5], [2.5, 3.5]], dtype="float32", padding="post",
               value=-1.0).tolist() == [[1.5, -1.0], [2.5, 3.5]]
    pairs = pad([np.ones((1, 2)), np.zeros((3, 2))])
    assert pairs.shape == (2, 3, 2) and pairs[0, :2].sum() == 0 and pairs[0, 2].sum() == 2
    assert pad([[1, 2]], maxlen=0).shape == (1, 0)
    with pytest.raises(ValueError, match=r"`padding` of `pad_sequences`: expected 'pre' or "
                                         r"'post'; received padding='middle'"):
        pad([[1]], padding="middle")
    with pytest.raises(ValueError, match="element 1 is 7"):
        pad([[1], 7])


def test_normalize_divides_by_the_norm_and_leaves_zeros():
    np.testing.assert_allclose(keras.utils.normalize([[3.0, 4.0], [0.0, 0.0]]),
                               [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(keras.utils.normalize([[3.0], [4.0]], axis=0), [[0.6], [0.8]])
    np.testing.assert_allclose(keras.utils.normalize([[1.0, -3.0]], order=1), [[0.25, -0.75]])


def test_set_random_seed_seeds_chainrule_python_and_numpy():
    def draws():
        return (layers.Dense(3, input_dim=2).kernel.numpy(), random.random(),
                np.random.rand(2))

    state = (random.getstate(), np.random.get_state())
    try:
        keras.utils.set_random_seed(7)
        first = draws()
        keras.utils.set_random_seed(7)
        second = draws()
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]
    np.testing.assert_array_equal(first[2], second[2])
    with pytest.raises(ValueError, match="`seed` of `set_random_seed`: expected an int"):
        keras.utils.set_random_seed(1.5)


def small_functional():
    inputs = keras.Input(shape=(8, 8, 1), name="img")
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    y = layers.Conv2D(4, 3, activation="relu", name="conv_b")(inputs)
    x = layers.add([x, y], name="sum")
    outputs = layers.Dense(2, activation="softmax", name="head")(layers.Flatten(name="flatten")(x))
    return keras.Model(inputs, outputs)


def test_model_nodes_follow_the_graph():
    nodes = keras.utils.model_nodes(small_functional(), show_shapes=True,
                                    show_layer_names=True, show_layer_activations=True)
    by_name = {n.fields[0].split(" ")[0]: n for n in nodes}
    assert list(by_name) == ["img", "conv", "conv_b", "sum", "flatten", "head"]
    assert by_name["sum"].inputs == (by_name["conv"].key, by_name["conv_b"].key)
    assert [n.depth for n in nodes] == [0, 1, 1, 2, 3, 4]
    assert by_name["head"].fields == ("head (Dense)", "activation: softmax",
                                      "output shape: (None, 2)")
    chain = keras.utils.model_nodes(keras.Sequential([keras.Input(shape=(3,)),
                                                      layers.Dense(2)]), show_shapes=True)
    assert [n.fields for n in chain] == [("InputLayer", "output shape: (None, 3)"),
                                        ("Dense", "output shape: (None, 2)")]
    assert chain[1].inputs == (chain[0].key,)


def test_plot_model_draws_with_matplotlib_without_graphviz(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot`
    for model, name in ((small_functional(), "graph.png"),
                        (keras.Sequential([layers.Dense(2, input_dim=3)]), "chain.png")):
        path = keras.utils.plot_model(model, to_file=tmp_path / name, show_shapes=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_model_hands_graphviz_the_dot_text(tmp_path, monkeypatch):
    """A stand-in `dot` on PATH records its arguments and writes its input to -o."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\n'
                    'while [ "$1" != "-o" ]; do shift; done\ncat > "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    path = keras.utils.plot_model(small_functional(), tmp_path / "m.svg", rankdir="LR",
                                  show_layer_names=True)
    text = path.read_text()
    assert (bin_dir / "args").read_text().split()[0] == "-Tsvg"
    assert text.startswith("digraph chainrule {") and "rankdir=LR;" in text
    assert "label=\"{ sum (Add) }\"" in text and text.count(" -> ") == 6


def test_plot_model_without_graphviz_or_matplotlib_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(cr.viz.drawing, "new_figure", lambda *a, **k: None)
    with pytest.raises(ImportError, match="needs Graphviz's `dot` on PATH or matplotlib"):
        keras.utils.plot_model(small_functional(), tmp_path / "m.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImportError):
            keras.utils.plot_model(small_functional(), tmp_path / "m.png", splines="ortho")
    assert "plot_model ignores ['splines']" in str(caught[0].message)


# ---------------------------------------------------------------- datasets


def test_mnist_load_data_reads_the_cache_with_no_argument(tmp_path, monkeypatch):
    """Keras' call, ``load_data()``, served from the cache: no request is made."""
    body, arrays = mnist_npz(5, 2)
    (tmp_path / "datasets" / "mnist").mkdir(parents=True)
    (tmp_path / "datasets" / "mnist" / "mnist.npz").write_bytes(body)
    monkeypatch.setitem(remote.MNIST.files, "mnist.npz", sha256(body))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert y_train.tolist() == [0, 1, 2, 3, 4] and x_test.shape == (2, 28, 28)


def test_load_data_downloads_from_a_mirror_once(tmp_path, monkeypatch):
    server = LoopbackServer()
    try:
        body, arrays = mnist_npz(5, 2)
        server.files["mnist.npz"] = body
        monkeypatch.setitem(remote.MNIST.files, "mnist.npz", sha256(body))
        for _ in range(2):
            (_, _), (x_test, _) = keras.datasets.mnist.load_data(
                origin=server.url, cache_dir=tmp_path, progress=False)
        np.testing.assert_array_equal(x_test, arrays["x_test"])
        assert server.requests == ["/mnist.npz"]
        labels = np.array([3, 1], dtype=np.uint8)
        idx = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 2]) + labels.tobytes())
        images = gzip.compress(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])
                               + bytes(2 * 28 * 28))
        for name, data in (("train-labels-idx1-ubyte.gz", idx), ("t10k-labels-idx1-ubyte.gz",
                           idx), ("train-images-idx3-ubyte.gz", images),
                           ("t10k-images-idx3-ubyte.gz", images)):
            server.files[name] = data
            monkeypatch.setitem(remote.FASHION_MNIST.files, name, sha256(data))
        (x_train, y_train), _ = keras.datasets.fashion_mnist.load_data(
            origin=server.url, cache_dir=tmp_path, progress=False)
        assert x_train.shape == (2, 28, 28) and y_train.tolist() == [3, 1]
    finally:
        server.close()


def test_load_data_offline_with_nothing_cached_raises_the_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on stands for "offline"
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with pytest.raises(cr.io.DownloadError) as raised:
        keras.datasets.mnist.load_data(origin=url, cache_dir=tmp_path, progress=False)
    message = str(raised.value)
    assert message.startswith(f"Could not download {url}mnist.npz") and "by hand" in message
    assert os.fspath(tmp_path / "datasets" / "mnist" / "mnist.npz") in message


# ---------------------------------------------------------------- the keras-io example


def simple_mnist_convnet(seed: int) -> tuple:
    """keras-io examples/vision/mnist_convnet.py with ``import chainrule as keras``, the
    built-in MNIST 8,000/2,000 split as data and 3 epochs; the model code is verbatim."""
    keras.utils.set_random_seed(seed)
    num_classes = 10
    input_shape = (28, 28, 1)
    images, labels = cr.datasets.load_mnist()
    (x_train, y_train), (x_test, y_test) = ((images[:8000], labels[:8000]),
                                            (images[8000:], labels[8000:]))
    # --- from here on the example's code, unchanged but for epochs = 3
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.summary()
    batch_size = 128
    epochs = 3
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    return model, score


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])  # chosen before measuring
def test_simple_mnist_convnet_runs_with_only_the_import_changed(seed, capsys):
    model, (loss, accuracy) = simple_mnist_convnet(seed)
    assert model.count_params() == 34_826  # Keras' summary of the example
    assert "Total params: 34,826" in capsys.readouterr().out
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f} after 3 epochs"
