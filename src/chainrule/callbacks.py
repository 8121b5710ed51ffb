"""Callbacks: hooks ``fit`` calls around epochs and batches (Keras names and semantics).

Subclass :class:`Callback` and override what you need; ``self.model`` is the model
being trained and ``self.params`` holds ``epochs``, ``steps`` and ``verbose``.
Setting ``self.model.stop_training = True`` ends training after the current batch.
Batch hooks cost time on every step, so ``fit`` only calls them on callbacks that
override them.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import warnings
from collections.abc import Callable

import numpy as np


class Callback:
    """Base class. Every hook receives ``logs``, a dict of the current numbers.

    ``writes_files``: a callback that writes files runs on rank 0 alone when ``fit``
    trains on several processes (``fit(distributed=True)``); the others run everywhere.
    """

    writes_files = False

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """After the last epoch, or when training stops for any reason (even an error)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """At the start of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """``logs`` holds the epoch's ``loss``, metrics and ``val_*`` numbers."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Before training step ``batch`` of the epoch."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """After training step ``batch``; ``logs`` holds the running epoch averages."""

    def overrides(self, hook: str) -> bool:
        """Whether this callback does anything in ``hook`` (fit skips it otherwise)."""
        return hook in vars(self) or getattr(type(self), hook) is not getattr(Callback, hook)


def _monitor_op(monitor: str, mode: str, owner: str):
    """``np.greater`` for metrics to maximise (accuracy, auc, ...), ``np.less`` otherwise."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"Invalid value for argument `mode` of `{owner}`: expected 'auto', "
                         f"'min' or 'max'; received mode={mode!r}.")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        maximise = "acc" in name or name in ("auc", "precision", "recall") \
            or name.startswith(("auc", "precision", "recall", "f1"))
        mode = "max" if maximise else "min"
    return np.greater if mode == "max" else np.less


class History(Callback):
    """Records every epoch's logs: ``history["loss"]`` is the list of epoch losses."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs. With ``restore_best_weights`` the best epoch's weights are
    put back when training ends, for whatever reason it ends."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.monitor_op = _monitor_op(monitor, mode, "EarlyStopping")
        self.min_delta = abs(min_delta) if self.monitor_op is np.greater else -abs(min_delta)

    def on_train_begin(self, logs=None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -np.inf if self.monitor_op is np.greater else np.inf
        self.best_weights = None
        self.best_epoch = 0

    def _improved(self, current: float, reference: float) -> bool:
        return bool(self.monitor_op(current - self.min_delta, reference))

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        current = _get_monitor(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.state_dict()
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None) -> None:
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


def _get_monitor(logs, monitor: str, owner: str) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{owner} is conditioned on metric `{monitor}`, which is not available. "
                      f"Available metrics are: {','.join(sorted(logs or {}))}.", stacklevel=3)
    return value


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after every epoch, or only when ``monitor``
    improves with ``save_best_only``. ``filepath`` may hold ``{epoch}`` and log keys,
    e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.keras"``."""

    writes_files = True

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss",
                 verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto"):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.monitor_op = _monitor_op(monitor, mode, "ModelCheckpoint")
        self.best = -np.inf if self.monitor_op is np.greater else np.inf

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = _get_monitor(logs, self.monitor, "ModelCheckpoint")
            if current is None or not self.monitor_op(current, self.best):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's ``lr`` by ``factor`` when ``monitor`` has not improved
    by ``min_delta`` for ``patience`` epochs; then wait ``cooldown`` epochs; never
    below ``min_lr``. Adds ``learning_rate`` to the epoch logs."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"Invalid value for argument `factor` of `ReduceLROnPlateau`: "
                             f"expected a float below 1; received factor={factor}.")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.verbose, self.min_delta, self.cooldown, self.min_lr = \
            verbose, min_delta, cooldown, min_lr
        self.monitor_op = _monitor_op(monitor, mode, "ReduceLROnPlateau")

    def on_train_begin(self, logs=None) -> None:
        self.best = -np.inf if self.monitor_op is np.greater else np.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current: float) -> bool:
        if self.monitor_op is np.greater:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        optimizer = self.model.optimizer
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(optimizer.lr)
        current = _get_monitor(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.lr > self.min_lr:
                new_lr = max(optimizer.lr * self.factor, self.min_lr)
                optimizer.lr = new_lr
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                          f"to {new_lr:.4g}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite, and put back the
    weights (parameters and buffers) with which the last finite loss was computed.

    By the end of the batch whose loss is NaN its update has already run (on NaN
    gradients), and the weights it started from gave that NaN: the weights to keep
    are those the step before started from. So the callback copies the weights into
    one of two preallocated snapshots before every step (one copy of the weights per
    step, no allocation) and restores the older one. The optimizer's state (moments,
    step counts) is not rolled back."""

    def on_train_begin(self, logs=None) -> None:
        self._snapshots: list = []  # [(tensors, copies)], the older one first

    def on_batch_begin(self, batch: int, logs=None) -> None:
        tensors = [t for _, t in self.model.named_parameters()] + \
            [t for _, t in self.model.named_buffers()]
        reuse = self._snapshots.pop(0) if len(self._snapshots) == 2 else None
        if reuse is None or not _fits(reuse, tensors):
            reuse = (tensors, [np.empty_like(t.data) for t in tensors])
        for t, copy in zip(*reuse):
            np.copyto(copy, t.data)
        self._snapshots.append(reuse)

    def on_batch_end(self, batch: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training and restoring "
                  f"the weights of the last finite step", file=sys.stderr)
            self.model.stop_training = True
            tensors, copies = self._snapshots[0]  # the older: the step before this one
            for t, copy in zip(tensors, copies):
                if t.data.flags.writeable and t.data.shape == copy.shape:
                    np.copyto(t.data, copy)
                else:
                    t.data = copy.copy()


def _fits(snapshot: tuple, tensors: list) -> bool:
    """Whether ``snapshot`` (tensors, copies) holds these tensors, their arrays' shapes
    and dtypes unchanged (a layer built since, or weights loaded, need new copies)."""
    held, copies = snapshot
    return len(held) == len(tensors) and all(
        a is b and c.shape == b.data.shape and c.dtype == b.data.dtype
        for a, b, c in zip(held, tensors, copies))


class CSVLogger(Callback):
    """Write one row per epoch (``epoch`` then the logs' keys) to a CSV file."""

    writes_files = True

    def __init__(self, filename: str | os.PathLike, separator: str = ",",
                 append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.file = None
        self.writer = None

    def on_train_begin(self, logs=None) -> None:
        has_rows = self.append and os.path.exists(self.filename) \
            and os.path.getsize(self.filename) > 0
        self.file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.keys = None
        self.write_header = not has_rows

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch", *self.keys],
                                         delimiter=self.sep, extrasaction="ignore")
            if self.write_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None) -> None:
        if self.file is not None:
            self.file.close()
            self.file = self.writer = None


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    ``on_epoch_begin/on_epoch_end(epoch, logs)``, ``on_batch_begin/on_batch_end(batch,
    logs)``, ``on_train_begin/on_train_end(logs)``."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
              "on_train_begin", "on_train_end")

    def __init__(self, **hooks: Callable):
        super().__init__()
        unknown = sorted(set(hooks) - set(self._HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s) {unknown}; choose from "
                            f"{list(self._HOOKS)}.")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class CallbackList:
    """Calls a list of callbacks in order; batch hooks only on those that override them."""

    def __init__(self, callbacks: list[Callback], model, params: dict):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self.batch_begin = [cb for cb in self.callbacks if cb.overrides("on_batch_begin")]
        self.batch_end = [cb for cb in self.callbacks if cb.overrides("on_batch_end")]

    def on_train_begin(self, logs=None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None) -> None:
        errors = []
        for cb in self.callbacks:  # every callback gets its turn, even if one fails
            try:
                cb.on_train_end(logs)
            except Exception as err:  # noqa: PERF203
                errors.append(err)
        if errors:
            raise errors[0]

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)
