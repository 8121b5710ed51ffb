"""What ``compile`` makes of per-output ``loss``, ``loss_weights`` and ``metrics`` (Keras).

A model with one output keeps one loss and a flat list of metrics. With several
outputs (named by their layers, or by the keys of a dict of outputs) each argument
may be one value for every output, a list in output order, or a dict by output
name; logs then read ``loss`` (the weighted sum), ``<output>_loss`` and
``<output>_<metric>``, as Keras' History does.
"""

from __future__ import annotations

import warnings

from .. import activations, losses
from .. import metrics as metrics_module
from ..autograd import no_grad
from ..tensor import Tensor

# Keras' compile settings for how training is executed: chainrule runs eagerly on NumPy,
# so they change nothing here.
EXECUTION_SETTINGS = ("jit_compile", "run_eagerly", "steps_per_execution", "auto_scale_loss")


def ignore_execution_settings(given: dict) -> None:
    """Warn that Keras' execution settings in ``given`` are ignored; refuse any other
    argument ``compile`` does not know."""
    unknown = sorted(set(given) - set(EXECUTION_SETTINGS))
    if unknown:
        raise TypeError(f"compile got unexpected argument(s) {unknown}.")
    if given:
        warnings.warn(f"compile ignores {sorted(given)}: chainrule runs eagerly on NumPy.",
                      stacklevel=3)


def _by_output(value, names: list[str], what: str, default) -> list:
    """``value`` per output: a list in output order, a dict by name (missing names
    get ``default``), or anything else for every output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile: `{what}` has key(s) {unknown} that are not outputs of "
                             f"the model; its outputs are {names}.")
        return [value.get(name, default) for name in names]
    if isinstance(value, list | tuple):
        if len(value) != len(names):
            raise ValueError(f"compile: `{what}` lists {len(value)} entries for a model with "
                             f"{len(names)} outputs {names}.")
        return list(value)
    return [value] * len(names)


def output_losses(loss, names: list[str]) -> list:
    """One Loss (or None: that output is not trained) per output."""
    if len(names) == 1 and not isinstance(loss, list | tuple | dict):
        return [losses.get(loss)]
    if len(names) == 1 and isinstance(loss, list | tuple) and len(loss) == 1:
        return [losses.get(loss[0])]
    specs = _by_output(loss, names, "loss", None)
    if all(s is None for s in specs):
        raise ValueError(f"compile: `loss` gives no loss for any output of {names}.")
    return [None if s is None else losses.get(s) for s in specs]


def output_loss_weights(loss_weights, names: list[str]) -> list[float]:
    """A float per output (1.0 unless given)."""
    if loss_weights is None:
        return [1.0] * len(names)
    weights = _by_output(loss_weights, names, "loss_weights", 1.0)
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int | float):
            raise ValueError(f"compile: `loss_weights` must be numbers; received "
                             f"{loss_weights!r}.")
    return [float(w) for w in weights]


def output_metrics(metrics, names: list[str]) -> list[tuple[int, object, str]]:
    """(output index, Metric, log name) for every compiled metric. One output: a flat
    list, names as given (a repeat gets a suffix). Several: a list with one entry
    (a metric or a list) per output, or a dict by output name; names get the output's
    name as prefix."""
    if not metrics:
        return []
    if len(names) == 1:
        specs = [metrics] if not isinstance(metrics, list | tuple | dict) else (
            [m for value in metrics.values() for m in _as_list(value)]
            if isinstance(metrics, dict) else list(metrics))
        per_output = [specs]
    else:
        if not isinstance(metrics, list | tuple | dict):
            raise ValueError(f"compile: for a model with outputs {names}, `metrics` must be "
                             f"a list with one entry per output or a dict by output name; "
                             f"received {metrics!r}.")
        per_output = [_as_list(m) for m in _by_output(metrics, names, "metrics", None)]
    entries, seen = [], set()
    for index, specs in enumerate(per_output):
        for spec in specs:
            metric = metrics_module.get(spec)
            name = metric.name if len(names) == 1 else f"{names[index]}_{metric.name}"
            unique, k = name, 1
            while unique in seen:
                unique, k = f"{name}_{k}", k + 1
            seen.add(unique)
            entries.append((index, metric, unique))
    return entries


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def output_loss(loss, target, out: Tensor, takes_logits: bool, activation: str | None,
                ran_logits: bool, sample_weight) -> tuple:
    """(loss value or None, prediction array) of one output. ``out`` is the logits when
    the model ran with ``logits=True`` and the output ends with ``activation``."""
    activate = activations.get(activation) if activation not in (None, "linear") else None
    if takes_logits:
        with no_grad():
            prediction = activate(out).data
        return loss.on_logits(target, out, sample_weight), prediction
    if ran_logits and activate is not None:
        out = activate(out)
    if loss is None:
        return None, out.data
    return loss(target, out, sample_weight), out.data
