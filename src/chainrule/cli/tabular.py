"""``chainrule train | predict | info``: a network for a CSV table, in one file.

``train`` reads the CSV (pandas), plans the preprocessing on a training split
(:mod:`.table`), trains an MLP (:class:`chainrule.sklearn.NeuralNetClassifier` or
``NeuralNetRegressor``) with early stopping on a validation slice, prints the test
metrics and writes one model file: the network, with the plan as the extra JSON
member ``preprocessing.json`` (``cr.models.save_model(..., extra_json=...)``).
``predict`` applies the same plan to new rows; ``info`` shows what a file expects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from .. import callbacks, models
from ..sklearn import NeuralNetClassifier, NeuralNetRegressor, class_probabilities
from .table import (
    TableError,
    encode_table,
    plan_table,
    read_csv,
    scale_target,
    target_task,
    unscale_target,
)

PLAN = "preprocessing.json"
VALIDATION_SPLIT = 0.1  # of the training rows, watched by early stopping


def train(csv: str | os.PathLike, target: str, out: str | os.PathLike = "model.chainrule",
          drop: Sequence[str] = (), task: str = "auto", test_size: float = 0.2,
          seed: int = 0, epochs: int = 200, patience: int = 10,
          hidden: Sequence[int] = (64, 32), batch_size: int = 32,
          learning_rate: float = 1e-3, verbose: int = 1,
          say: Callable[[str], None] = print) -> dict:
    """Train on ``csv`` to predict column ``target``, print the test metrics through
    ``say`` and write the model file ``out``; returns the metrics."""
    source = os.fspath(csv)
    frame = read_csv(source)
    task = target_task(frame, target, source, task)
    classify = task == "classification"
    y = frame[target].to_numpy()
    train_rows, test_rows = train_test_split(
        frame, test_size=test_size, random_state=seed,
        stratify=y if classify and _stratifiable(y) else None)
    plan = plan_table(frame, target, source, drop, task, fit_rows=train_rows.index)
    say(_describe_start(frame, plan, len(train_rows), len(test_rows), seed))
    estimator = (NeuralNetClassifier if classify else NeuralNetRegressor)(
        model__hidden_layer_sizes=tuple(hidden), optimizer__learning_rate=learning_rate,
        epochs=epochs, batch_size=batch_size, validation_split=VALIDATION_SPLIT,
        callbacks=[callbacks.EarlyStopping(patience=patience, restore_best_weights=True)],
        verbose=verbose, random_state=seed)
    y_train = train_rows[target].to_numpy()
    estimator.fit(encode_table(train_rows, plan, source),
                  y_train if classify else scale_target(y_train, plan))
    x_test, y_test = encode_table(test_rows, plan, source), test_rows[target].to_numpy()
    found = _classification_metrics(estimator, x_test, y_test) if classify else \
        _regression_metrics(unscale_target(estimator.predict(x_test), plan), y_test)
    found["epochs"] = len(estimator.history_["loss"])
    say(f"trained {found['epochs']} of at most {epochs} epochs (early stopping: patience "
        f"{patience}; the best epoch's weights kept)")
    say(_describe_metrics(found, plan))
    models.save_model(estimator.model_, out, extra_json={PLAN: plan})
    say(f"wrote {os.fspath(out)} (the network and its preprocessing)")
    return found


def _stratifiable(y: np.ndarray) -> bool:
    """A stratified split needs at least two rows of every class."""
    return np.unique(y, return_counts=True)[1].min() >= 2


def _classification_metrics(estimator, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy, ROC AUC (one-vs-rest over the classes; None when the test rows do not
    hold two classes, all of them seen in training) and the confusion matrix."""
    proba = estimator.predict_proba(x)
    classes = estimator.classes_
    predicted = classes[proba.argmax(axis=1)]
    auc = None
    if len(np.unique(y)) >= 2 and np.isin(y, classes).all():
        auc = float(roc_auc_score(y == classes[1], proba[:, 1]) if len(classes) == 2
                    else roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    return {"accuracy": float(accuracy_score(y, predicted)), "auc": auc,
            "confusion_matrix": confusion_matrix(y, predicted, labels=classes)}


def _regression_metrics(predicted: np.ndarray, y: np.ndarray) -> dict:
    return {"mae": float(mean_absolute_error(y, predicted)), "r2": float(r2_score(y, predicted))}


def _describe_start(frame, plan: dict, n_train: int, n_test: int, seed: int) -> str:
    target = plan["target"]
    what = f"classification into {target['classes']}" if target["task"] == "classification" \
        else "regression"
    dropped = ", ".join(f"{k} ({v})" for k, v in plan["dropped"].items()) or "none"
    kinds = [c["kind"] for c in plan["columns"]]
    return (f"{len(frame)} rows; target {target['name']!r}: {what}\n"
            f"dropped: {dropped}\n"
            f"inputs: {kinds.count('numeric')} numeric columns (standardised), "
            f"{kinds.count('categorical')} categorical (one-hot) -> "
            f"{len(plan['features'])} features\n"
            f"split (seed {seed}): {n_train} training rows ({VALIDATION_SPLIT:.0%} of them "
            f"for early stopping), {n_test} test rows")


def _describe_metrics(found: dict, plan: dict) -> str:
    if "mae" in found:
        return f"test MAE: {found['mae']:.4f}\ntest R^2: {found['r2']:.4f}"
    classes = [str(c) for c in plan["target"]["classes"]]
    width = max(8, *(len(c) + 2 for c in classes))
    rows = [" " * width + "".join(f"{c:>{width}}" for c in classes)]
    rows += [f"{c:>{width}}" + "".join(f"{n:>{width}}" for n in counts)
             for c, counts in zip(classes, found["confusion_matrix"])]
    auc = "n/a (one class in the test rows)" if found["auc"] is None else f"{found['auc']:.4f}"
    return (f"test accuracy: {found['accuracy']:.4f}\ntest AUC: {auc}\n"
            f"confusion matrix (rows: true {plan['target']['name']}, columns: predicted):\n"
            + "\n".join(rows))


# ---------------------------------------------------------------- predict and info


def load(path: str | os.PathLike) -> tuple:
    """The network and the preprocessing plan of a file written by ``chainrule train``."""
    model = models.load_model(path, compile=False)
    plan = models.load_extra_json(path, PLAN)
    if not isinstance(plan, dict) or plan.get("format") != "chainrule.table":
        raise TableError(f"{os.fspath(path)}'s {PLAN} is not a chainrule train plan.")
    return model, plan


def predict(model_path: str | os.PathLike, csv: str | os.PathLike):
    """Predictions for every row of ``csv``: a DataFrame with the target's name
    (labels or values) and, for a classifier, ``probability_<class>`` columns."""
    model, plan = load(model_path)
    source = os.fspath(csv)
    outputs = model.predict(encode_table(read_csv(source), plan, source), batch_size=1024)
    target = plan["target"]
    if target["task"] == "regression":
        return pd.DataFrame({target["name"]: unscale_target(outputs[:, 0], plan)})
    proba = class_probabilities(outputs)
    classes = np.asarray(target["classes"], dtype=object)
    result = pd.DataFrame({target["name"]: classes[proba.argmax(axis=1)]})
    for i, c in enumerate(target["classes"]):
        result[f"probability_{c}"] = proba[:, i]
    return result


def info(model_path: str | os.PathLike, say: Callable[[str], None] = print) -> None:
    """Print the network's summary, the target and the columns the file expects."""
    model, plan = load(model_path)
    model.summary(print_fn=say)
    target = plan["target"]
    classes = f", classes {target['classes']}" if "classes" in target else ""
    say(f"target: {target['name']!r} ({target['task']}{classes})")
    say("expected columns (in any order; other columns are ignored):")
    width = max(len(c["name"]) for c in plan["columns"]) + 2
    for c in plan["columns"]:
        detail = f"numeric, standardised with mean {c['mean']:.6g}, scale {c['scale']:.6g}" \
            if c["kind"] == "numeric" else f"categorical, one of {c['categories']}"
        say(f"  {c['name']:<{width}}{detail}")
    dropped = ", ".join(f"{k} ({v})" for k, v in plan["dropped"].items()) or "none"
    say(f"dropped in training: {dropped}")
