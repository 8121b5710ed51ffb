"""The loops behind ``fit``, ``evaluate`` and ``predict``.

Each step calls the model's ``train_step`` (``test_step`` in evaluation), which
returns the batch's logs (``{"loss": value}``, a GAN's ``{"d_loss", "g_loss"}``);
the loop averages every entry over the epoch, weighted by batch size, and adds the
compiled metrics' results.

The per-step path is kept lean because small models are all per-step overhead:
batches are slices of arrays converted once (one permutation per epoch), logs and
metrics accumulate as running sums in NumPy (no graph), batch callbacks are
called only when some callback overrides them, and the progress bar is refreshed
at most ten times a second.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import numpy as np

from ..autograd import no_grad
from ..callbacks import CallbackList, History
from ..data.inputs import ArrayData, IterableData, make_data
from .data_parallel import OneProcess, plan_for
from .progress import Progress, format_logs


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


class _RunningLogs:
    """Batch-size-weighted means of the logs ``train_step``/``test_step`` return, and
    the results of the model's compiled metrics (which the steps update)."""

    def __init__(self, metrics: list):
        self.metrics = metrics
        for m in metrics:
            m.reset()
        self.sums: dict[str, float] = {}
        self.seen = 0
        self.results: dict[str, float] = {}  # metric values merged from other processes

    def add(self, logs: dict, n: int) -> None:
        sums = self.sums
        for key, value in logs.items():
            sums[key] = sums.get(key, 0.0) + value * n
        self.seen += n

    def result(self) -> dict:
        seen = self.seen
        logs = {key: total / seen for key, total in self.sums.items()} if seen \
            else {"loss": float("nan")}
        for m in self.metrics:
            logs[m.name] = self.results.get(m.name, float(m.result()))
        return logs


def _validation_data(validation_data, integer_x: bool):
    if isinstance(validation_data, tuple | list) and len(validation_data) in (2, 3):
        return make_data(*validation_data, integer_x=integer_x, what="x_val")
    return make_data(validation_data, integer_x=integer_x, what="x_val")


def fit(model, x, y=None, batch_size: int | None = 32, epochs: int = 1, verbose: int = 1,
        validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
        callbacks=None, class_weight=None, sample_weight=None, initial_epoch: int = 0,
        validation_batch_size: int | None = None, distributed: bool = False) -> History:
    """Train ``model`` (see :meth:`Model.fit`); ``distributed``: on this process's share
    of every batch (``models/data_parallel.py``)."""
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
    plan = plan_for(model, distributed)
    steps = plan.steps(data, batch_size)
    history = History()
    cbs = CallbackList([*plan.callbacks(callbacks or []), history], model,
                       {"epochs": epochs, "steps": steps, "verbose": verbose})
    progress = Progress(plan.verbose(verbose), epochs, steps)
    model.stop_training = False
    model.history = history
    modes = [(m, m.training) for m in model.modules()]
    model.train()
    cbs.on_train_begin()
    logs = None
    try:
        for epoch in range(initial_epoch, epochs):
            plan.begin_epoch(model)
            cbs.on_epoch_begin(epoch)
            logs, done = _train_epoch(model, plan.batches(data, batch_size, shuffle), cbs,
                                      progress, epoch, plan)
            plan.end_training_pass(model)
            if val is not None:
                val_logs = run_evaluation(model, val, validation_batch_size or batch_size, plan)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            progress.end_epoch(done, logs)
            cbs.on_epoch_end(epoch, logs)
            plan.end_epoch(model)
            if model.stop_training:
                break
    except BaseException as error:
        plan.failed(error)
        raise
    finally:
        progress.close()
        for m, training in modes:
            object.__setattr__(m, "training", training)
        cbs.on_train_end(logs)
    plan.end()
    return history


def _train_epoch(model, batches: Iterator, cbs: CallbackList, progress: Progress, epoch: int,
                 plan: OneProcess) -> tuple[dict, int]:
    """One pass over ``batches``; returns the epoch's logs and the number of steps run."""
    running = _RunningLogs(model.compiled_metrics)
    train_step = model.train_step
    batch_begin, batch_end = cbs.batch_begin, cbs.batch_end
    clock = time.perf_counter if progress.use_bar else None
    step = 0
    progress.start_epoch(epoch)
    for xb, yb, wb in batches:
        for cb in batch_begin:
            cb.on_batch_begin(step, {"batch": step, "size": len(xb)})
        running.add(train_step(xb, yb, wb), len(xb))
        step += 1
        if batch_end:
            batch_logs = running.result()
            for cb in batch_end:
                cb.on_batch_end(step - 1, batch_logs)
        if clock is not None:
            now = clock()
            if progress.due(now):
                progress.update(step, running.result(), now)
        if plan.stop_now(model, bool(batch_end)):
            break
    batches.close()  # leaves the batch's shard (data/sharding.py) on an early stop
    plan.merge(running)
    return running.result(), step


def run_evaluation(model, data, batch_size: int, plan: OneProcess | None = None) -> dict:
    """Loss (batch-size-weighted mean) and metrics of ``model`` on ``data`` (with a
    data-parallel ``plan``, on this process's share, merged with the others')."""
    plan = plan or OneProcess()
    running = _RunningLogs(model.compiled_metrics)
    with inference_mode(model):
        for xb, yb, wb in plan.evaluation_data(data).batches(batch_size):
            running.add(model.test_step(xb, yb, wb), len(xb))
    plan.merge(running)
    if running.seen == 0:
        raise ValueError("evaluate received no samples.")
    return running.result()


def evaluate(model, x, y=None, batch_size: int | None = 32, verbose: int = 0,
             sample_weight=None, return_dict: bool = False):
    """Loss and metrics on ``x, y`` (see :meth:`Model.evaluate`)."""
    model._require_compiled("evaluate")
    data = make_data(x, y, sample_weight, integer_x=model._integer_input())
    logs = run_evaluation(model, data, _positive_int(batch_size or 32, "batch_size"))
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size: int | None = 32, verbose: int = 0,
            forward: Callable | None = None) -> np.ndarray:
    """Outputs of ``model`` on ``x`` as one NumPy array (see :meth:`Model.predict`);
    ``forward`` (default: the model) is what runs on each batch, e.g. an autoencoder's
    encoder."""
    batch_size = _positive_int(batch_size or 32, "batch_size")
    data = make_data(x, integer_x=model._integer_input())
    forward = model if forward is None else forward
    outputs = []
    with inference_mode(model):
        for xb, _, _ in data.batches(batch_size):
            out = forward(xb)
            outputs.append(np.array(getattr(out, "data", out)))
    if not outputs:
        raise ValueError("predict received no samples.")
    return np.concatenate(outputs, axis=0)
