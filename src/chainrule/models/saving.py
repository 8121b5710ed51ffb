"""``model.save`` / ``load_model``: one zip file, read back without trusting it.

The file holds ``config.json`` (architecture and build shape),
``model.weights.safetensors`` (the state_dict), ``optimizer.json`` +
``optimizer.safetensors`` (hyperparameters, step counts, moment buffers),
``compile.json`` (loss and metrics) and ``metadata.json``; and any extra JSON
members a tool built on chainrule stores beside the model (``save_model(...,
extra_json=...)``, read back by :func:`load_extra_json`; the CLI keeps its
preprocessing there).

Loading never unpickles and never imports or executes anything named in the file:
layer and model classes resolve only through ``custom_objects`` and the layer
registry (``cr.layers.deserialize_layer``); losses, metrics and optimizers only
through their own ``get``. While the architecture is rebuilt, weights are created
as zeros (they are overwritten next), no random numbers are drawn, and no layer
may create more weight values than the weights file holds, so a hostile config
cannot exhaust memory. Any problem raises :class:`ModelFormatError`, and a model
is returned only when everything has loaded.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import zipfile
from collections.abc import Iterator

import numpy as np

from .. import initializers, losses, optim
from .. import metrics as metrics_module
from ..io import (
    ModelFormatError,
    decode_arrays,
    decode_json,
    encode_arrays,
    encode_json,
    load_arrays,
    read_archive,
    save_arrays,
    write_archive,
)
from ..layers import deserialize_layer, serialize_layer
from ..module import Module
from ..version import __version__

FORMAT = "chainrule.model"
FORMAT_VERSION = 1
CONFIG, WEIGHTS = "config.json", "model.weights.safetensors"
OPTIONAL = ("compile.json", "optimizer.json", "optimizer.safetensors", "metadata.json")
MAX_INPUT_VALUES = 1 << 24  # per sample, for the zero batch that builds lazy layers
EXTRA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.json")  # an extra member: "preprocessing.json"

# ---------------------------------------------------------------- saving


def _serialize_loss(loss) -> dict | None:
    if loss is None:
        return None
    if isinstance(loss, losses.LossFunctionWrapper):
        return {"function": loss.name}
    return losses.serialize(loss)


def _serialize_metric(metric) -> dict:
    if type(metric) is metrics_module.MeanMetricWrapper:
        return {"function": metric.name}
    return metrics_module.serialize(metric)


def _is_model(obj) -> bool:
    """Whether ``obj`` has Model's interface (compile, build, a known input shape).

    This module sits below ``model.py`` (whose ``save`` and ``load_weights`` call it),
    so it knows a model by what it offers rather than by its class."""
    return isinstance(obj, Module) and all(
        hasattr(obj, name) for name in ("compile", "build", "_known_input_shape"))


def model_members(model: Module) -> dict[str, bytes]:
    """The archive's members (name -> bytes) for ``model``."""
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **serialize_layer(model)}
    shape = model._known_input_shape()
    if shape is not None:
        config["build_config"] = {"input_shape": list(shape),
                                  "input_dtype": model._build_input_dtype}
    try:
        members = {CONFIG: encode_json(config)}
    except TypeError as err:
        raise TypeError(f"Cannot save {type(model).__name__}: a layer's get_config() holds "
                        f"something that is not JSON ({err}).") from None
    members[WEIGHTS] = encode_arrays(model.state_dict())
    members["metadata.json"] = encode_json({"chainrule_version": __version__})
    if model.optimizer is not None:
        state = dict(model.optimizer.state_dict())
        members["optimizer.safetensors"] = encode_arrays(state.pop("arrays", {}))
        members["optimizer.json"] = encode_json(state)
    if model.loss is not None:
        members["compile.json"] = encode_json({
            "optimizer": None if model.optimizer is None else {
                "name": type(model.optimizer).__name__,
                "hyperparameters": model.optimizer.get_config()},
            **_compile_settings(model)})
    return members


def _compile_settings(model: Module) -> dict:
    """Loss and metrics; with several outputs, a loss per output (null: not trained),
    ``loss_weights`` and the metrics as {output name: [metric, ...]}."""
    if not isinstance(model.loss, list):
        return {"loss": _serialize_loss(model.loss),
                "metrics": [_serialize_metric(m) for m in model.compiled_metrics]}
    metrics: dict[str, list] = {name: [] for name in model.output_names}
    for index, metric, _ in model._metric_entries:
        metrics[model.output_names[index]].append(_serialize_metric(metric))
    return {"loss": [_serialize_loss(loss) for loss in model.loss],
            "loss_weights": model.loss_weights, "metrics": metrics}


def save_model(model: Module, filepath: str | os.PathLike,
               extra_json: dict[str, object] | None = None) -> None:
    """Write ``model`` to one zip file at ``filepath``, atomically.

    ``extra_json`` maps further member names (``"preprocessing.json"``: letters,
    digits, ``_``, ``-``, then ``.json``) to JSON-able objects stored beside the model,
    for tools built on chainrule; :func:`load_extra_json` reads one back and
    ``load_model`` ignores them."""
    members = model_members(model)
    for name, value in (extra_json or {}).items():
        if not isinstance(name, str) or not EXTRA_NAME.fullmatch(name) \
                or name in members or name in OPTIONAL:
            raise ValueError(f"save_model: extra_json member {name!r:.80} must be a new name "
                             f"like 'preprocessing.json' (letters, digits, _ or -, then "
                             f".json), not one of the model's own members.")
        members[name] = encode_json(value)
    write_archive(filepath, members)


def save_weights(model: Module, filepath: str | os.PathLike) -> None:
    """Write ``model.state_dict()`` as a safetensors file, atomically."""
    save_arrays(filepath, model.state_dict())


# ---------------------------------------------------------------- loading


def load_extra_json(filepath: str | os.PathLike, name: str) -> object:
    """The extra JSON member ``name`` that ``save_model(..., extra_json=...)`` stored,
    read through the same checks as ``load_model`` (ModelFormatError when the file
    is not a model file, lacks the member or holds bad JSON)."""
    path = os.fspath(filepath)
    if not isinstance(name, str) or not EXTRA_NAME.fullmatch(name):
        raise ValueError(f"load_extra_json: {name!r:.80} is not an extra member name "
                         f"(letters, digits, _ or -, then .json).")
    members = read_archive(path, required=(CONFIG, name))
    return decode_json(members[name], f"{path!r}: {name}", expect=object)


def load_model(filepath: str | os.PathLike, custom_objects: dict | None = None,
               compile: bool = True) -> Module:
    """Rebuild a model saved by ``model.save``: architecture, weights and, with
    ``compile``, its loss, metrics and optimizer state (so ``fit`` resumes exactly).

    ``custom_objects`` maps names to your own layer/model classes, losses or metric
    functions. Raises :class:`~chainrule.io.ModelFormatError` for anything corrupt,
    hostile or inconsistent; ``FileNotFoundError`` when there is no file.
    """
    path = os.fspath(filepath)
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError("custom_objects must be a dict mapping names to classes or functions.")
    members = read_archive(path, required=(CONFIG, WEIGHTS), optional=OPTIONAL)
    try:
        return _load(members, custom_objects or {}, compile)
    except ModelFormatError as err:
        raise ModelFormatError(f"{path!r}: {err}") from None
    except Exception as err:  # a bad config reaching a constructor: TypeError, ValueError...
        raise ModelFormatError(f"{path!r}: cannot rebuild the model: "
                               f"{type(err).__name__}: {err}") from None


def _load(members: dict[str, bytes], custom_objects: dict, compile: bool) -> Module:
    config = decode_json(members[CONFIG], CONFIG)
    if config.get("format", FORMAT) != FORMAT:
        raise ModelFormatError(f"{CONFIG}: format {config.get('format')!r:.50} is not {FORMAT}.")
    weights = decode_arrays(members[WEIGHTS], WEIGHTS)
    budget = sum(a.size for a in weights.values())
    with _building_guard(budget):
        model = _deserialize_model(config, custom_objects)
        if not _is_model(model):
            raise ModelFormatError(f"{CONFIG}: class {config['class_name']!r} is not a Model.")
        build = _build_config(config.get("build_config"))
        if build is not None:
            model._build_input_shape, model._build_input_dtype = build
            if _own_weights(model).keys() != weights.keys():
                model.build(*build)
    assign_weights(model, weights, WEIGHTS)
    if compile and "compile.json" in members:
        _compile(model, members, custom_objects)
    return model


def _deserialize_model(config: dict, custom_objects: dict) -> Module:
    try:
        return deserialize_layer(config, custom_objects)
    except ModelFormatError as err:
        raise ModelFormatError(f"{CONFIG}: {err}") from None


@contextlib.contextmanager
def _building_guard(budget: int) -> Iterator[None]:
    """While a file's architecture is rebuilt: weights start as zeros (no random draws)
    and their total size may not exceed what the weights file holds (plus slack)."""
    try:
        with initializers.placeholder_weights(budget + 1024):
            yield
    except initializers.WeightBudgetExceeded:
        raise ModelFormatError(f"{CONFIG}: the architecture needs more weight values than "
                               f"{WEIGHTS} holds ({budget}).") from None


def _build_config(build) -> tuple | None:
    if build is None:
        return None
    shape = build.get("input_shape") if isinstance(build, dict) else None
    dtype = build.get("input_dtype") if isinstance(build, dict) else None
    if not isinstance(shape, list) or len(shape) < 2 or shape[0] is not None \
            or not all(type(d) is int and d > 0 for d in shape[1:]) \
            or math.prod(shape[1:]) > MAX_INPUT_VALUES:
        raise ModelFormatError(f"{CONFIG}: build_config.input_shape {shape!r:.100} must be "
                               f"[null, positive ints...] of at most {MAX_INPUT_VALUES} values.")
    if dtype is not None and dtype not in ("float16", "float32", "float64", "int32", "int64",
                                           "uint8", "bool"):
        raise ModelFormatError(f"{CONFIG}: unsupported build_config.input_dtype {dtype!r:.50}.")
    return tuple(shape), dtype


def _own_weights(model: Module) -> dict:
    own = dict(model.named_parameters())
    own.update(model.named_buffers())
    return own


def assign_weights(model: Module, weights: dict[str, np.ndarray], where: str) -> None:
    """Load ``weights`` into ``model`` only if every name, shape and dtype kind fits."""
    own = _own_weights(model)
    problems = []
    missing, unexpected = sorted(own.keys() - weights.keys()), sorted(weights.keys() - own.keys())
    if missing:
        problems.append(f"missing {missing[:10]}")
    if unexpected:
        problems.append(f"unexpected {unexpected[:10]}")
    for key in own.keys() & weights.keys():
        target, value = own[key], weights[key]
        if tuple(value.shape) != target.shape:
            problems.append(f"{key!r} has shape {value.shape}, the model expects {target.shape}")
        elif (value.dtype.kind == "f") != (target.dtype.kind == "f"):
            problems.append(f"{key!r} has dtype {value.dtype}, the model expects {target.dtype}")
    if problems:
        hint = "" if not missing or model._build_input_shape is not None else \
            " (is the model built? call it on data or model.build(input_shape) first)"
        raise ModelFormatError(f"{where} does not fit {type(model).__name__}: "
                               + "; ".join(problems) + hint + ".")
    model.load_state_dict(weights)


def _compile(model: Module, members: dict, custom_objects: dict) -> None:
    cfg = decode_json(members["compile.json"], "compile.json")
    loss, metrics, loss_weights = _compile_arguments(cfg, custom_objects)
    state = None
    if "optimizer.json" in members:  # the full state: hyperparameters, steps, moments
        state = decode_json(members["optimizer.json"], "optimizer.json")
        optimizer = _deserialize_optimizer(state, custom_objects)
        arrays = decode_arrays(members["optimizer.safetensors"], "optimizer.safetensors") \
            if "optimizer.safetensors" in members else {}
        state = {**state, "arrays": arrays}
    elif isinstance(cfg.get("optimizer"), dict):  # only the settings
        optimizer = _deserialize_optimizer(cfg["optimizer"], custom_objects)
    else:
        optimizer = cfg.get("optimizer") or "rmsprop"
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=loss_weights)
    if state is not None:
        model.optimizer.load_state_dict(state)


def _compile_arguments(cfg: dict, custom_objects: dict) -> tuple:
    """(loss, metrics, loss_weights) for ``compile`` from compile.json: one loss and a
    list of metrics, or a list of losses, {output: [metrics]} and a list of weights."""
    spec, metric_specs = cfg.get("loss"), cfg.get("metrics", [])
    if isinstance(spec, list):
        loss = [_deserialize(s, losses, custom_objects, "loss") for s in spec]
        weights = cfg.get("loss_weights")
        if weights is not None and not (isinstance(weights, list) and all(
                type(w) in (int, float) for w in weights)):
            raise ModelFormatError("compile.json: loss_weights must be a list of numbers.")
        if not isinstance(metric_specs, dict) or not all(
                isinstance(v, list) for v in metric_specs.values()):
            raise ModelFormatError("compile.json: metrics must map output names to lists.")
        metrics = {name: [_deserialize(m, metrics_module, custom_objects, "metric")
                          for m in specs] for name, specs in metric_specs.items()}
        return loss, metrics, weights
    if not isinstance(metric_specs, list):
        raise ModelFormatError("compile.json: metrics must be a list.")
    metrics = [_deserialize(m, metrics_module, custom_objects, "metric") for m in metric_specs]
    return _deserialize(spec, losses, custom_objects, "loss"), metrics, None


def _deserialize(spec, module, custom_objects: dict, what: str):
    """A loss or metric from its saved spec, through ``module.get`` or custom_objects."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ModelFormatError(f"compile.json: a {what} must be an object; found {spec!r:.100}.")
    if "function" in spec:
        fn = custom_objects.get(spec["function"]) if isinstance(spec["function"], str) else None
        if fn is None:
            raise ModelFormatError(f"compile.json: the {what} is the function "
                                   f"{spec['function']!r:.100}; pass it in custom_objects, or "
                                   f"load_model(..., compile=False).")
        return module.get(fn)
    cls = custom_objects.get(spec.get("class_name")) if isinstance(
        spec.get("class_name"), str) else None
    if isinstance(cls, type):
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise ModelFormatError(f"compile.json: the {what} config must be an object.")
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    return module.get(spec)


def _deserialize_optimizer(state: dict, custom_objects: dict):
    name, hyper = state.get("name"), state.get("hyperparameters", {})
    scalars = state.get("scalars", {})
    if not isinstance(hyper, dict) or not all(_plain_number(v) or v is None or (
            isinstance(v, list) and all(_plain_number(x) for x in v)) for v in hyper.values()):
        raise ModelFormatError("optimizer.json: hyperparameters must be numbers.")
    if not isinstance(scalars, dict) or not all(
            type(v) in (int, float) for v in scalars.values()):
        raise ModelFormatError("optimizer.json: scalars must be numbers.")
    cls = custom_objects.get(name) if isinstance(name, str) else None
    if isinstance(cls, type) and issubclass(cls, optim.Optimizer):
        return cls(**hyper)
    return optim.get({"name": name, "hyperparameters": hyper})


def _plain_number(v) -> bool:
    return type(v) in (int, float, bool)


def load_weights(model: Module, filepath: str | os.PathLike) -> None:
    """Load a safetensors weights file (or the weights of a full model file) into
    ``model``: every name, shape and dtype must fit, else nothing changes."""
    path = os.fspath(filepath)
    if zipfile.is_zipfile(path):
        data = read_archive(path, required=(WEIGHTS,))[WEIGHTS]
        weights = decode_arrays(data, f"{path!r}: {WEIGHTS}")
    else:
        weights = load_arrays(path)
    if _is_model(model) and _own_weights(model).keys() != weights.keys():
        shape = model._known_input_shape()
        if shape is not None:
            model.build(shape, model._build_input_dtype)
    assign_weights(model, weights, repr(path))
