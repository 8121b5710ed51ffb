"""The walkthrough registry: what ``chainrule demo`` runs, in order, and how it judges it.

A walkthrough is a script in ``examples/`` with ``main(...) -> dict``. Its entry
names the script, says in a line what it shows, picks the result keys for the
summary table and lists the checks against the tutorial's numbers. Adding one is
one line::

    register(Walkthrough("mnist_cnn", "MNIST CNN", "Conv2D + pooling on real digits",
                         keys=("test_accuracy",), checks=(at_least("test_accuracy", 0.97),)))

Result keys are dotted paths into the returned dict (``"transfers.relu.accuracy"``,
``"predictions.0"``); a summary key may carry a label, ``"error@0=article.errors.0"``.
A check may carry a looser bound for ``--quick``, or be judged only in the full run;
the table marks both as relaxed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHURN_FILE = "Churn_Modelling.csv"
CHURN_HELP = (f"needs {CHURN_FILE} (the public Kaggle 'Churn Modelling' bank-customer data): "
              f"pass --churn PATH, or put it in ../shared/datasets/ next to the checkout")


@dataclass(frozen=True)
class DemoContext:
    """What a run was asked for: where to write, how quick, and the churn CSV if found."""

    out_dir: Path
    quick: bool = False
    churn_path: Path | None = None


@dataclass(frozen=True)
class Check:
    """One comparison with the tutorial: its label, the verdict, and whether the
    ``--quick`` bound (looser than the tutorial's) was used."""

    label: str
    passed: bool
    relaxed: bool = False


CheckFn = Callable[[dict, bool], Check]


def lookup(result: dict, key: str):
    """``result["a"]["b"][0]`` for ``key == "a.b.0"``."""
    value = result
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list | tuple) else value[part]
    return value


def _bound(normal, quick_value, quick: bool):
    relaxed = quick and quick_value is not None
    return (quick_value if relaxed else normal), relaxed


def near(key: str, target, tol: float, quick_tol: float | None = None) -> CheckFn:
    """|result[key] − target| <= tol, elementwise for lists."""
    def check(result: dict, quick: bool) -> Check:
        bound, relaxed = _bound(tol, quick_tol, quick)
        error = float(np.max(np.abs(np.asarray(lookup(result, key), dtype=float)
                                    - np.asarray(target, dtype=float))))
        return Check(f"{key} ≈ {target} ± {bound:g}", bool(error <= bound), relaxed)
    return check


def _compare(key: str, symbol: str, bound: float, quick_bound: float | None,
             full_only: bool, holds: Callable[[float, float], bool]) -> CheckFn:
    def check(result: dict, quick: bool) -> Check:
        if quick and full_only:
            return Check(f"{key} {symbol} {bound:g}: not judged in --quick (too few epochs)",
                         True, relaxed=True)
        value, relaxed = _bound(bound, quick_bound, quick)
        return Check(f"{key} {symbol} {value:g}", bool(holds(float(lookup(result, key)),
                                                               value)), relaxed)
    return check


def at_least(key: str, bound: float, quick_bound: float | None = None,
             full_only: bool = False) -> CheckFn:
    """result[key] >= bound (``quick_bound`` under --quick; ``full_only``: not judged there)."""
    return _compare(key, "≥", bound, quick_bound, full_only, lambda v, b: v >= b)


def at_most(key: str, bound: float, quick_bound: float | None = None,
            full_only: bool = False) -> CheckFn:
    """result[key] <= bound (``quick_bound`` under --quick; ``full_only``: not judged there)."""
    return _compare(key, "≤", bound, quick_bound, full_only, lambda v, b: v <= b)


def standard_args(ctx: DemoContext) -> dict:
    """The arguments of the walkthroughs written for the demo: main(out_dir, quick, verbose)."""
    return {"out_dir": ctx.out_dir, "quick": ctx.quick, "verbose": True}


@dataclass(frozen=True)
class Walkthrough:
    """One entry of the demo. ``script`` defaults to ``examples/<name>.py``; ``args``
    maps the run's context to ``main``'s keyword arguments; ``requires`` returns why
    it must be skipped (or None); ``plot`` draws plots for a script that makes none,
    returning ``{title: path}``."""

    name: str
    title: str
    shows: str
    keys: tuple[str, ...] = ()
    checks: tuple[CheckFn, ...] = ()
    script: str = ""
    args: Callable[[DemoContext], dict] = standard_args
    requires: Callable[[DemoContext], str | None] | None = field(default=None)
    plot: Callable[[dict, DemoContext], dict] | None = None  # for scripts that draw none

    @property
    def filename(self) -> str:
        return self.script or f"{self.name}.py"


WALKTHROUGHS: list[Walkthrough] = []


def register(walkthrough: Walkthrough) -> Walkthrough:
    """Append a walkthrough to the demo (names are unique)."""
    if any(w.name == walkthrough.name for w in WALKTHROUGHS):
        raise ValueError(f"A walkthrough named {walkthrough.name!r} is already registered.")
    WALKTHROUGHS.append(walkthrough)
    return walkthrough


def get(name: str) -> Walkthrough:
    for w in WALKTHROUGHS:
        if w.name == name:
            return w
    raise KeyError(f"No walkthrough named {name!r}; choose from "
                   f"{[w.name for w in WALKTHROUGHS]}.")


def find_churn_csv(explicit: str | os.PathLike | None = None) -> Path | None:
    """The churn CSV: ``explicit`` if given, else ../shared/datasets/ next to the current
    directory or to the checkout this package was installed from."""
    if explicit is not None:
        path = Path(explicit)
        return path if path.is_file() else None
    from .runner import repo_root

    bases = [Path.cwd()] + ([repo_root()] if repo_root() is not None else [])
    for base in bases:
        for candidate in (base / ".." / "shared" / "datasets" / CHURN_FILE,
                          base / "shared" / "datasets" / CHURN_FILE):
            if candidate.is_file():
                return candidate.resolve()
    return None


def _churn_args(ctx: DemoContext) -> dict:
    return {"path": ctx.churn_path, "epochs": 5 if ctx.quick else 50, "verbose": 0}


def _churn_requires(ctx: DemoContext) -> str | None:
    return None if ctx.churn_path is not None else CHURN_HELP


def _churn_plots(result: dict, ctx: DemoContext) -> dict:
    from ..utils.plotting import plot_confusion_matrix, plot_history

    made = {"training curves": plot_history(result["history"], ctx.out_dir / "churn_history.png",
                                            title="churn: loss and accuracy per epoch"),
            "confusion matrix": plot_confusion_matrix(
                result["confusion_matrix"], ctx.out_dir / "churn_confusion_matrix.png",
                labels=["stays", "leaves"], title="churn: test set")}
    return {title: path for title, path in made.items() if path is not None}


# ---------------------------------------------------------------- the tutorials, in order

register(Walkthrough(
    "two_layer_network", "A two-layer network by hand",
    "NumPy backprop = chainrule autograd = Sequential.fit",
    keys=("predictions", "grad_diff@step0=step0_gradient_difference",
          "Sequential_vs_A=sequential_difference"),
    checks=(near("predictions", [0, 1, 1, 0], 0.05),
            at_most("step0_gradient_difference", 1e-12),
            at_most("tensors_difference", 1e-10),
            at_most("sequential_difference", 1e-10))))
register(Walkthrough(
    "celsius_neuron", "One neuron: Celsius to Fahrenheit",
    "hand-written MSE gradients = chainrule's",
    keys=("weight", "bias", "chainrule_vs_hand=chainrule_difference"),
    checks=(near("weight", 1.8, 0.01), near("bias", 32, 0.1),
            near("chainrule_weight", 1.8, 0.01), near("chainrule_bias", 32, 0.1),
            at_most("step0_gradient_difference", 1e-10),
            at_most("chainrule_difference", 1e-8))))
register(Walkthrough(
    "backprop_by_hand", "Backpropagation in plain loops",
    "the article's deltas, 3 transfers vs autograd",
    keys=("error@0=article.epoch_errors.0", "error@19=article.epoch_errors.19",
          "grad_diff=gradient_difference"),
    checks=(near("article.forward_output", [0.6629970129852887, 0.7253160725279748], 1e-12),
            near("article.deltas.1", [-0.14619064683582808, 0.0771723774346327], 1e-12),
            near("article.deltas.0", [-0.0005348048046610517], 1e-12),
            near("article.epoch_errors.0", 6.350, 5e-4),
            near("article.epoch_errors.19", 1.132, 5e-4),
            at_most("gradient_difference", 1e-12), at_most("weights_difference", 1e-12),
            *(at_least(f"transfers.{t}.accuracy", 1.0) for t in ("sigmoid", "tanh", "relu")))))
register(Walkthrough(
    "computational_graph", "The computational graph",
    "g = (x + y)·z, the chain rule node by node",
    keys=("p", "g", "dg_dz", "dg_dp", "dg_dx", "dg_dy"),
    checks=tuple(near(k, v, 0) for k, v in (("p", 4), ("g", -12), ("dg_dg", 1), ("dg_dz", 4),
                                              ("dg_dp", -3), ("dg_dx", -3), ("dg_dy", -3)))))
register(Walkthrough(
    "forward_propagation", "Forward propagation",
    "the guide's passes, by hand and with Dense",
    keys=("relu_output", "tanh_output", "deep_output"),
    checks=(near("relu_output", -3, 0), near("tanh_output", 0.990, 5e-4),
            near("deep_output", 364, 0), near("dense_relu_output", -3, 1e-12),
            near("dense_tanh_output", 0.990, 5e-4), near("dense_deep_output", 364, 1e-12))))
register(Walkthrough(
    "churn", "Bank churn with Sequential (Keras style)",
    "the Keras tutorial's classifier, imports changed",
    keys=("test_accuracy=accuracy", "p_new_customer_leaves=probability"),
    checks=(at_least("accuracy", 0.835, quick_bound=0.80), at_most("probability", 0.5)),
    args=_churn_args, requires=_churn_requires, plot=_churn_plots))
register(Walkthrough(
    "regularization", "Overfitting and its remedies",
    "dropout, early stopping, augmentation on digits",
    keys=("baseline_train=baseline.train_accuracy", "baseline_test=baseline.test_accuracy",
          "dropout=dropout.test_accuracy", "early_stop=early_stopping.test_accuracy",
          "augment=augmentation.test_accuracy"),
    checks=(at_least("baseline.train_accuracy", 0.99, quick_bound=0.9),
            at_least("baseline.gap", 0.02),
            *(at_least(f"{v}.test_accuracy", 0.9, quick_bound=0.85)
              for v in ("baseline", "dropout", "early_stopping")),
            at_least("augmentation.test_accuracy", 0.9, quick_bound=0.80),
            at_least("baseline_test_loss_rise", 0.0, full_only=True),
            at_least("test_loss_reduction.dropout", -0.01, full_only=True),
            at_least("test_loss_reduction.augmentation", 0.0, full_only=True),
            at_least("early_stopping.stopped_early", 1, full_only=True))))


def _mnist_requires(ctx: DemoContext) -> str | None:
    """The MNIST runs need its files, except under --quick (scikit-learn's 8x8 digits)."""
    if ctx.quick:
        return None
    from .runner import load_example

    example = load_example("mnist_cnn.py")
    return None if example.find_mnist() is not None else (
        f"{example.MNIST_HELP}; --quick runs it on scikit-learn's 8x8 digits instead")


register(Walkthrough(
    "mnist_cnn", "A CNN on MNIST digits", "Conv2D + pooling vs an MLP, 8k/2k split",
    keys=("test_accuracy", "mlp=mlp_test_accuracy", "errors"),
    checks=(at_least("test_accuracy", 0.975, quick_bound=0.9),),
    requires=_mnist_requires))
register(Walkthrough(
    "transfer_learning", "Transfer learning: digits 0-4 to 5-9",
    "freeze the features, pop() the head, add() a new one",
    keys=("accuracy_5_9=transfer_accuracy_5_9", "s/epoch_frozen=frozen_seconds_per_epoch",
          "s/epoch_full=full_seconds_per_epoch"),
    checks=(at_least("transfer_accuracy_5_9", 0.96, quick_bound=0.85),
            at_least("frozen_weights_unchanged", 1)),
    requires=_mnist_requires))


def _short_run(**full_overrides) -> Callable[[DemoContext], dict]:
    """standard_args, with shorter settings for the demo's full (MNIST) run."""
    def args(ctx: DemoContext) -> dict:
        return {**standard_args(ctx), **({} if ctx.quick else full_overrides)}
    return args


register(Walkthrough(
    "rbm", "A restricted Boltzmann machine", "CD-1 on binary digits vs scikit-learn's RBM",
    keys=("pseudo_likelihood", "sklearn=sklearn_pseudo_likelihood", "time_ratio"),
    checks=(at_least("pseudo_likelihood_gain", 0.0), at_most("time_ratio", 0.7, quick_bound=1.0)),
    args=_short_run(epochs=3), requires=_mnist_requires))
register(Walkthrough(
    "dbn", "A deep belief net", "greedy RBM pretraining, fine-tuned on 1,000 labels",
    keys=("pretrained=pretrained_accuracy", "random_init=random_init_accuracy"),
    checks=(at_least("improvement", 0.01, quick_bound=0.0),
            at_least("pretrained_accuracy", 0.9, quick_bound=0.75)),
    requires=_mnist_requires))
register(Walkthrough(
    "autoencoder", "Autoencoders", "dense, denoising and convolutional, codes in 2-D",
    keys=("dense_mse=dense.test_mse", "conv_mse=conv.test_mse", "noisy=denoising.noisy_mse",
          "denoised=denoising.denoised_mse"),
    checks=(at_most("dense.test_mse", 0.013, quick_bound=0.032),
            at_most("conv.test_mse", 0.03, quick_bound=0.05),
            at_most("denoising.denoised_mse", 0.04, quick_bound=0.06)),
    args=_short_run(conv_epochs=2), requires=_mnist_requires))
register(Walkthrough(
    "gan", "A GAN draws digits", "dense GAN, samples scored by a CNN",
    keys=("confidence=mean_confidence", "classes=classes_covered", "epochs=epochs_run"),
    checks=(at_least("classes_covered", 8, quick_bound=5),
            at_least("mean_confidence", 0.75, quick_bound=0.5)),
    args=_short_run(epochs=40), requires=_mnist_requires))
