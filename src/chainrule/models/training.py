"""The loops behind ``fit``, ``evaluate`` and ``predict``.

The per-step path is kept lean because small models are all per-step overhead:
batches are slices of arrays converted once (one permutation per epoch), the loss
and metrics accumulate as running sums in NumPy (no graph), batch callbacks are
called only when some callback overrides them, and the progress bar is refreshed
at most ten times a second.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np

from ..autograd import no_grad
from ..callbacks import CallbackList, History
from .inputs import ArrayData, IterableData, make_data
from .progress import Progress


@contextlib.contextmanager
def inference_mode(model) -> Iterator[None]:
    """Eval mode and no graph; every module's training flag is restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        for m, training in modes:
            object.__setattr__(m, "training", training)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"Invalid value for argument `{name}`: expected a positive integer; "
                         f"received {name}={value!r}.")
    return int(value)


def _epoch_logs(loss_sum: float, seen: int, metrics: list) -> dict:
    logs = {"loss": loss_sum / seen if seen else float("nan")}
    for m in metrics:
        logs[m.name] = float(m.result())
    return logs


def _validation_data(validation_data, integer_x: bool):
    if isinstance(validation_data, tuple | list) and len(validation_data) in (2, 3):
        return make_data(*validation_data, integer_x=integer_x, what="x_val")
    return make_data(validation_data, integer_x=integer_x, what="x_val")


def fit(model, x, y=None, batch_size: int | None = 32, epochs: int = 1, verbose: int = 1,
        validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
        callbacks=None, class_weight=None, sample_weight=None, initial_epoch: int = 0,
        validation_batch_size: int | None = None) -> History:
    """Train ``model`` (see :meth:`Model.fit`)."""
    model._require_compiled("fit")
    verbose = 1 if verbose == "auto" else int(verbose)
    batch_size = _positive_int(batch_size or 32, "batch_size")
    epochs = int(epochs)
    integer_x = model._integer_input()
    data = make_data(x, y, sample_weight, class_weight, integer_x)
    if isinstance(data, ArrayData) and data.y is None:
        raise ValueError("fit needs targets: call fit(x, y, ...) (for an autoencoder, "
                         "fit(x, x)), or pass a loader that yields (x, y) batches.")
    val = None
    if validation_data is not None:
        val = _validation_data(validation_data, integer_x)
    elif validation_split:
        if isinstance(data, IterableData):
            raise ValueError("validation_split needs array inputs; pass validation_data "
                             "with a data loader.")
        data, val = data.split(validation_split)
    steps = data.steps(batch_size)
    history = History()
    cbs = CallbackList([*(callbacks or []), history], model,
                       {"epochs": epochs, "steps": steps, "verbose": verbose})
    progress = Progress(verbose, epochs, steps)
    model.stop_training = False
    model.history = history
    modes = [(m, m.training) for m in model.modules()]
    model.train()
    cbs.on_train_begin()
    logs = None
    try:
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            logs, done = _train_epoch(model, data, batch_size, shuffle, cbs, progress, epoch)
            if val is not None:
                val_logs = run_evaluation(model, val, validation_batch_size or batch_size)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            progress.end_epoch(done, logs)
            cbs.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    finally:
        progress.close()
        for m, training in modes:
            object.__setattr__(m, "training", training)
        cbs.on_train_end(logs)
    return history


def _train_epoch(model, data, batch_size: int, shuffle: bool, cbs: CallbackList,
                 progress: Progress, epoch: int) -> tuple[dict, int]:
    """One pass over ``data``; returns the epoch's logs and the number of steps run."""
    metrics = model.compiled_metrics
    for m in metrics:
        m.reset()
    train_step = model.train_step
    batch_begin, batch_end = cbs.batch_begin, cbs.batch_end
    clock = time.perf_counter if progress.use_bar else None
    loss_sum, seen, step = 0.0, 0, 0
    progress.start_epoch(epoch)
    for xb, yb, wb in data.batches(batch_size, shuffle):
        for cb in batch_begin:
            cb.on_batch_begin(step, {"batch": step, "size": len(xb)})
        loss, y_pred = train_step(xb, yb, wb)
        n = len(xb)
        loss_sum += loss * n
        seen += n
        for m in metrics:
            m.update(yb, y_pred)
        step += 1
        if batch_end:
            batch_logs = _epoch_logs(loss_sum, seen, metrics)
            for cb in batch_end:
                cb.on_batch_end(step - 1, batch_logs)
        if clock is not None:
            now = clock()
            if progress.due(now):
                progress.update(step, _epoch_logs(loss_sum, seen, metrics), now)
        if model.stop_training:
            break
    return _epoch_logs(loss_sum, seen, metrics), step


def run_evaluation(model, data, batch_size: int) -> dict:
    """Loss (batch-size-weighted mean) and metrics of ``model`` on ``data``."""
    metrics = model.compiled_metrics
    for m in metrics:
        m.reset()
    loss_sum, seen = 0.0, 0
    with inference_mode(model):
        for xb, yb, wb in data.batches(batch_size):
            if yb is None:
                raise ValueError("evaluate needs targets y (or batches of (x, y)).")
            loss, y_pred = model.test_step(xb, yb, wb)
            loss_sum += loss * len(xb)
            seen += len(xb)
            for m in metrics:
                m.update(yb, y_pred)
    if seen == 0:
        raise ValueError("evaluate received no samples.")
    return _epoch_logs(loss_sum, seen, metrics)


def evaluate(model, x, y=None, batch_size: int | None = 32, verbose: int = 0,
             sample_weight=None, return_dict: bool = False):
    """Loss and metrics on ``x, y`` (see :meth:`Model.evaluate`)."""
    model._require_compiled("evaluate")
    data = make_data(x, y, sample_weight, integer_x=model._integer_input())
    logs = run_evaluation(model, data, _positive_int(batch_size or 32, "batch_size"))
    if verbose:
        from .progress import format_logs

        print(format_logs(logs))
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size: int | None = 32, verbose: int = 0) -> np.ndarray:
    """Outputs of ``model`` on ``x`` as one NumPy array (see :meth:`Model.predict`)."""
    batch_size = _positive_int(batch_size or 32, "batch_size")
    data = make_data(x, integer_x=model._integer_input())
    outputs = []
    with inference_mode(model):
        for xb, _, _ in data.batches(batch_size):
            out = model(xb)
            outputs.append(np.array(getattr(out, "data", out)))
    if not outputs:
        raise ValueError("predict received no samples.")
    return np.concatenate(outputs, axis=0)
