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
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from ..autograd import no_grad
from ..callbacks import CallbackList, History, TerminateOnNaN
from ..data.inputs import ArrayData, Arrays, IterableData, batch_length, check_count, make_data
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


def _batch_size(value) -> int:
    """Keras' default of 32 for None; else a whole number >= 1."""
    return 32 if value is None else check_count(value, "batch_size")


def check_input_shape(model, x: np.ndarray, name: str = "x") -> None:
    """Compare the whole input with the shape the model was built for, once, before
    batching (so the error shows what the user passed, not one batch): the same number
    of axes and the same feature (last) axis. Skipped for token-id inputs, whose last
    axis is the sequence length."""
    expected = model._known_input_shape()
    if not isinstance(expected, tuple) or model._integer_input() \
            or not all(d is None or isinstance(d, int) for d in expected):
        return  # unknown, token ids, or several inputs
    if x.ndim != len(expected) or expected[-1] not in (None, x.shape[-1]):
        raise ValueError(f"`{name}` has shape {x.shape}, samples of shape {x.shape[1:]}; "
                         f"{type(model).__name__} {model.name!r} expects samples of shape "
                         f"{tuple(expected[1:])} (input_shape {tuple(expected)}).")


class _DivergenceWatch:
    """Warns once per ``fit``, at the first step whose logs hold NaN or infinity (not
    when a TerminateOnNaN callback is there to say so)."""

    def __init__(self, callbacks: list):
        self.warned = any(isinstance(cb, TerminateOnNaN) for cb in callbacks)

    def check(self, logs: dict, epoch: int, step: int) -> None:
        if self.warned:
            return
        bad = [(k, v) for k, v in logs.items()
               if isinstance(v, numbers.Real) and not math.isfinite(v)]
        if not bad:
            return
        self.warned = True
        key, value = bad[0]
        warnings.warn(f"fit: `{key}` became {value} at epoch {epoch + 1}, batch {step + 1}: "
                      f"training diverged (a learning rate too high? inputs too large?) and "
                      f"the weights are likely NaN from here on. "
                      f"callbacks=[cr.callbacks.TerminateOnNaN()] stops at this point and "
                      f"keeps the last finite weights.", RuntimeWarning, stacklevel=5)


class _RunningLogs:
    """Batch-size-weighted means of the logs ``train_step``/``test_step`` return, and
    the results of the model's compiled metrics (which the steps update)."""

    def __init__(self, model):
        self.model = model
        model.reset_metrics()
        self.sums: dict[str, float] = {}
        self.seen = 0
        self.results: dict[str, float] = {}  # merged from other processes, by log name

    def add(self, logs: dict, n: int) -> None:
        sums = self.sums
        for key, value in logs.items():
            sums[key] = sums.get(key, 0.0) + value * n
        self.seen += n

    def result(self) -> dict:
        seen = self.seen
        logs = {key: total / seen for key, total in self.sums.items()} if seen \
            else {"loss": float("nan")}
        logs.update(self.model.metric_results())
        logs.update(self.results)
        return logs


def _by_name(model, data, names: list[str], what: str):
    """A model's inputs (or targets) as the data pipeline takes them: one array for a
    model with one, else :class:`Arrays` in the model's order from a list or a dict by
    name (``model.input_names`` / ``output_names``)."""
    if data is None or _is_loader(data):
        return data
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"`{what}` has key(s) {unknown}; the model's are {names}.")
        if len(names) == 1:
            return data.get(names[0])
        return Arrays(data.get(name) for name in names)
    if len(names) > 1:
        if not isinstance(data, list | tuple) or len(data) != len(names):
            kind = "inputs" if what.startswith("x") else "outputs"
            raise ValueError(f"The model has {len(names)} {kind} {names}: give `{what}` as "
                             f"a list of {len(names)} arrays or a dict by name.")
        return Arrays(data)
    return data


def _is_loader(data) -> bool:
    return not isinstance(data, dict | list | tuple) and not hasattr(data, "shape") \
        and not hasattr(data, "to_numpy") and hasattr(data, "__iter__")


def model_data(model, x, y=None, sample_weight=None, class_weight=None, what: str = "x"):
    """``make_data`` for ``model``: dict/list inputs and targets put in the model's
    order, integer inputs kept as integers where the model takes ids."""
    input_names = getattr(model, "input_names", ["input"])
    if _is_loader(x) and (len(input_names) > 1 or len(model.output_names) > 1):
        raise ValueError(f"Model '{model.name}' has several inputs or outputs: pass arrays "
                         f"(lists or dicts of them); data loaders yielding lists or dicts "
                         f"are not supported.")
    x = _by_name(model, x, input_names, what)
    y = _by_name(model, y, model.output_names, what.replace("x", "y"))
    integer_x = model._integer_input()
    if isinstance(x, Arrays):
        integer_x = [t.dtype.kind in "iub" for t in model.inputs]
    return make_data(x, y, sample_weight, class_weight, integer_x, what)


def _data(model, x, y=None, sample_weight=None, class_weight=None, what: str = "x"):
    """``model_data``, with a single array input checked against the model's shape."""
    data = model_data(model, x, y, sample_weight, class_weight, what)
    if isinstance(data, ArrayData) and not isinstance(data.x, Arrays):
        check_input_shape(model, data.x, what)
    return data


def _validation_data(model, validation_data):
    if isinstance(validation_data, tuple | list) and len(validation_data) in (2, 3):
        return _data(model, *validation_data, what="x_val")
    return _data(model, validation_data, what="x_val")


def fit(model, x, y=None, batch_size: int | None = 32, epochs: int = 1, verbose: int = 1,
        validation_split: float = 0.0, validation_data=None, shuffle: bool = True,
        callbacks=None, class_weight=None, sample_weight=None, initial_epoch: int = 0,
        validation_batch_size: int | None = None, distributed: bool = False) -> History:
    """Train ``model`` (see :meth:`Model.fit`); ``distributed``: on this process's share
    of every batch (``models/data_parallel.py``)."""
    model._require_compiled("fit")
    verbose = 1 if verbose == "auto" else check_count(verbose, "verbose", 0)
    batch_size = _batch_size(batch_size)
    epochs = check_count(epochs, "epochs", 0)
    initial_epoch = check_count(initial_epoch, "initial_epoch", 0)
    data = _data(model, x, y, sample_weight, class_weight)
    if isinstance(data, ArrayData) and data.y is None:
        raise ValueError("fit needs targets: call fit(x, y, ...) (for an autoencoder, "
                         "fit(x, x)), or pass a loader that yields (x, y) batches.")
    val = None
    if validation_data is not None:
        val = _validation_data(model, validation_data)
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
    watch = _DivergenceWatch(cbs.callbacks)
    try:
        for epoch in range(initial_epoch, epochs):
            plan.begin_epoch(model)
            cbs.on_epoch_begin(epoch)
            logs, done = _train_epoch(model, plan.batches(data, batch_size, shuffle), cbs,
                                      progress, epoch, plan, watch)
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
                 plan: OneProcess, watch: _DivergenceWatch) -> tuple[dict, int]:
    """One pass over ``batches``; returns the epoch's logs and the number of steps run."""
    running = _RunningLogs(model)
    train_step = model.train_step
    batch_begin, batch_end = cbs.batch_begin, cbs.batch_end
    clock = time.perf_counter if progress.use_bar else None
    step = 0
    progress.start_epoch(epoch)
    for xb, yb, wb in batches:
        for cb in batch_begin:
            cb.on_batch_begin(step, {"batch": step, "size": batch_length(xb)})
        step_logs = train_step(xb, yb, wb)
        watch.check(step_logs, epoch, step)
        running.add(step_logs, batch_length(xb))
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
    running = _RunningLogs(model)
    with inference_mode(model):
        for xb, yb, wb in plan.evaluation_data(data).batches(batch_size):
            running.add(model.test_step(xb, yb, wb), batch_length(xb))
    plan.merge(running)
    if running.seen == 0:
        raise ValueError("evaluate received no samples.")
    return running.result()


def evaluate(model, x, y=None, batch_size: int | None = 32, verbose: int = 0,
             sample_weight=None, return_dict: bool = False):
    """Loss and metrics on ``x, y`` (see :meth:`Model.evaluate`)."""
    model._require_compiled("evaluate")
    batch_size = _batch_size(batch_size)
    logs = run_evaluation(model, _data(model, x, y, sample_weight), batch_size)
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size: int | None = 32, verbose: int = 0,
            forward: Callable | None = None):
    """Outputs of ``model`` on ``x`` as one NumPy array, or a list/dict of them for a
    model with several outputs (see :meth:`Model.predict`); ``forward`` (default: the
    model) is what runs on each batch, e.g. an autoencoder's encoder."""
    batch_size = _batch_size(batch_size)
    if forward is None:
        data, forward = _data(model, x), model
    else:  # another input than the model's (an autoencoder's decoder takes codes)
        data = make_data(x, integer_x=model._integer_input())
    batches = []
    with inference_mode(model):
        for xb, _, _ in data.batches(batch_size):
            batches.append(_as_arrays(forward(xb)))
    if not batches:
        raise ValueError("predict received no samples.")
    first = batches[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(batches, axis=0)
    keys = list(first) if isinstance(first, dict) else range(len(first))
    joined = {k: np.concatenate([b[k] for b in batches], axis=0) for k in keys}
    return joined if isinstance(first, dict) else [joined[k] for k in keys]


def _as_arrays(out):
    """A batch's output as an array, or a list/dict of arrays."""
    if isinstance(out, dict):
        return {k: np.array(getattr(v, "data", v)) for k, v in out.items()}
    if isinstance(out, list | tuple):
        return [np.array(getattr(v, "data", v)) for v in out]
    return np.array(getattr(out, "data", out))
