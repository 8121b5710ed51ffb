"""DataLoader: batching, seeded shuffling, dtypes, and use in fit and hand-written loops."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader


def _data(n=23):
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    y = np.arange(n) % 3
    return x, y


def test_batches_cover_every_sample_in_order():
    x, y = _data()
    loader = DataLoader(x, y, batch_size=5)
    batches = list(loader)
    assert len(loader) == len(batches) == 5
    assert [len(xb) for xb, _ in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _ in batches]), x)
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in batches]), y)


def test_dtypes_floats_to_default_labels_stay_integer():
    x, y = _data()
    xb, yb = next(iter(DataLoader(x, y)))
    assert isinstance(xb, cr.Tensor) and xb.dtype == np.float32
    assert yb.dtype.kind == "i"


def test_drop_last_and_x_only():
    x, _ = _data()
    loader = DataLoader(x, batch_size=5, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 4
    assert all(isinstance(b, cr.Tensor) and b.shape == (5, 2) for b in batches)


def test_shuffle_is_a_seeded_permutation_per_epoch():
    x, y = _data()
    loader = DataLoader(x, y, batch_size=4, shuffle=True)
    cr.manual_seed(7)
    first = np.concatenate([yb.numpy() for _, yb in loader])
    second = np.concatenate([yb.numpy() for _, yb in loader])
    cr.manual_seed(7)
    again = np.concatenate([yb.numpy() for _, yb in loader])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)  # a fresh order each epoch
    assert sorted(first) == sorted(y)
    for xb, yb in loader:  # rows stay paired with their labels: y[i] = i % 3, x[i, 0] = 2i
        np.testing.assert_array_equal(yb.numpy(), xb.numpy()[:, 0] // 2 % 3)


def test_pandas_and_lists():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]})
    loader = DataLoader(df, pd.Series([0, 1, 0]), batch_size=2)
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb.numpy(), [[1, 4], [2, 5]])
    assert list(DataLoader([[1.0], [2.0]], [1, 2], batch_size=1))[1][1].item() == 2


def test_errors_name_the_problem():
    x, y = _data()
    with pytest.raises(ValueError, match="23 samples but `y` has 22"):
        DataLoader(x, y[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(x, y, batch_size=0)
    with pytest.raises(TypeError, match="must hold numbers"):
        DataLoader(np.array(["a", "b"], dtype=object))


def test_fit_and_a_hand_written_loop_accept_a_loader():
    cr.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3))
    y = (x.sum(axis=1) > 0).astype(np.int64)
    model = cr.models.Sequential([cr.layers.Dense(8, activation="relu", input_dim=3),
                                  cr.layers.Dense(2)])
    loader = DataLoader(x, y, batch_size=16, shuffle=True)
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        for xb, yb in loader:
            loss = cr.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.compile(optimizer="adam", loss=cr.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    history = model.fit(loader, epochs=2, verbose=0, validation_data=DataLoader(x, y))
    assert len(history.history["loss"]) == 2 and "val_accuracy" in history.history
