"""Plots: valid PNG files with matplotlib, a clean None without it."""

import builtins

import numpy as np
import pytest

from chainrule.utils import plotting
from chainrule.utils.plotting import plot_confusion_matrix, plot_curves, plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path) -> None:
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, f"{path} is not a PNG file"


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make every `import matplotlib...` fail, as on a machine without it."""
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r} (simulated)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)


class _History:
    history = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.6],
               "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.75]}


@pytest.mark.parametrize("history", [_History(), _History.history])
def test_plot_history_writes_png(tmp_path, history):
    pytest.importorskip("matplotlib")
    path = plot_history(history, tmp_path / "sub" / "history.png", title="t")
    assert path == tmp_path / "sub" / "history.png"
    assert_png(path)


def test_plot_curves_and_confusion_matrix_write_png(tmp_path):
    pytest.importorskip("matplotlib")
    curves = plot_curves({"y": [3.0, 2.0, 1.0], "xy": ([0, 1], [1.0, 2.0])},
                         tmp_path / "curves.png", logy=True, points={"p": ([0], [1.0])})
    cm = plot_confusion_matrix(np.array([[50, 3], [7, 40]]), tmp_path / "cm.png",
                               labels=["stays", "leaves"])
    assert_png(curves)
    assert_png(cm)


def test_without_path_returns_the_figure():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = plot_history({"loss": [1.0, 0.5]})
    assert isinstance(figure, Figure)
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss"]


def test_without_matplotlib_every_plot_returns_none(tmp_path, no_matplotlib):
    assert not plotting.is_available()
    assert plot_history({"loss": [1.0]}, tmp_path / "h.png") is None
    assert plot_curves({"a": [1.0, 2.0]}, tmp_path / "c.png") is None
    assert plot_confusion_matrix([[1, 0], [0, 1]], tmp_path / "m.png") is None
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="plot_history expects a History"):
        plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match=r"square \(k, k\) matrix; received shape \(2, 3\)"):
        plot_confusion_matrix(np.zeros((2, 3)))
