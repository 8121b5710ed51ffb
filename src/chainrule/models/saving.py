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
through their own ``get``. The architecture is rebuilt first, with weights that are
read-only zeros taking no memory (no random numbers are drawn), counted against
what the weights member declares; what the architecture needs then bounds every
byte read from the file (weights, optimizer state) before anything is inflated.
Layers are built from shapes alone (``compute_output_shape``), running no data, so
a large input shape costs nothing but the weights it implies. Only a module that
cannot say its shapes (a subclassed model without ``compute_output_shape``, a custom
layer) is built on a zero batch, and what a file may ask of that batch is bounded
(``_check_zero_batch``). Any problem raises :class:`ModelFormatError`, and a
model is returned only when everything has loaded.

``metadata.json`` also holds chainrule's random-generator state at save time;
``load_model(path, restore_rng=True)`` continues from it, so that a run resumed with
``fit(..., initial_epoch=...)``, in a new process too, draws the same shuffles and
dropout masks as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import zipfile
from collections.abc import Iterator

import numpy as np

from .. import backend, initializers, losses, optim
from .. import metrics as metrics_module
from ..io import (
    Archive,
    ModelFormatError,
    decode_arrays,
    decode_json,
    encode_arrays,
    encode_json,
    load_arrays,
    open_regular,
    read_header,
    safetensors_budget,
    save_arrays,
    write_archive,
)
from ..layers import deserialize_layer, serialize_layer
from ..layers.base import has_unbuilt_layers, zero_batch_bound
from ..layers.node import flat_shapes, format_shape
from ..module import Module
from ..version import __version__

FORMAT = "chainrule.model"
FORMAT_VERSION = 1
CONFIG, WEIGHTS = "config.json", "model.weights.safetensors"
OPTIONAL = ("compile.json", "optimizer.json", "optimizer.safetensors", "metadata.json")
# A sample of more values than this (16 GiB in float32) is no input a saved model was
# built for: such a build_config.input_shape is corrupt or hostile.
MAX_SAMPLE_VALUES = 1 << 32
# What a file may ask of a zero batch, for the modules that cannot build from shapes
# alone (a subclassed model without compute_output_shape, a custom layer or module):
MAX_WIDTH = 1 << 16  # units, filters or output_dim of one layer
MAX_ZERO_BATCH_VALUES = 1 << 24  # input values x widest layer x largest kernel area
MAX_TIMESTEPS = 1 << 13  # the time axis, in a model with a recurrent layer
RECURRENT_LAYERS = ("SimpleRNN", "LSTM", "GRU")
MAX_OPTIMIZER_SLOTS = 4  # buffers an optimizer keeps per parameter (Adam with amsgrad: 3)
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
    metadata = {"chainrule_version": __version__}
    with contextlib.suppress(TypeError):  # a generator whose state is not JSON-able
        metadata["rng"] = backend.get_rng_state()
    members["metadata.json"] = encode_json(metadata)
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
    with Archive(path, required=(CONFIG, name)) as archive:
        return decode_json(archive.read(name), f"{path!r}: {name}", expect=object)


def load_model(filepath: str | os.PathLike, custom_objects: dict | None = None,
               compile: bool = True, restore_rng: bool = False) -> Module:
    """Rebuild a model saved by ``model.save``: architecture, weights and, with
    ``compile``, its loss, metrics and optimizer state (so ``fit`` resumes exactly).

    ``custom_objects`` maps names to your own layer/model classes, losses or metric
    functions. ``restore_rng`` also makes chainrule's global random generator continue
    from its state when the model was saved, so that ``fit(..., initial_epoch=...)``
    draws the shuffles and dropout masks an uninterrupted run would have (off by
    default: loading changes nothing global). Raises
    :class:`~chainrule.io.ModelFormatError` for anything corrupt, hostile or
    inconsistent; ``FileNotFoundError`` when there is no file.
    """
    path = os.fspath(filepath)
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError("custom_objects must be a dict mapping names to classes or functions.")
    with Archive(path, required=(CONFIG, WEIGHTS), optional=OPTIONAL) as archive:
        try:
            return _load(archive, custom_objects or {}, compile, restore_rng)
        except ModelFormatError as err:
            message = str(err)
            raise ModelFormatError(message if message.startswith(repr(path))
                                   else f"{path!r}: {message}") from None
        except Exception as err:  # a bad config reaching a constructor: TypeError, ValueError...
            raise ModelFormatError(f"{path!r}: cannot rebuild the model: "
                                   f"{type(err).__name__}: {err}") from None


def _load(archive: Archive, custom_objects: dict, compile: bool, restore_rng: bool) -> Module:
    config = decode_json(archive.read(CONFIG), CONFIG)
    if config.get("format", FORMAT) != FORMAT:
        raise ModelFormatError(f"{CONFIG}: format {config.get('format')!r:.50} is not {FORMAT}.")
    size = archive.declared_size(WEIGHTS)
    stored = read_header(lambda n: archive.read_prefix(WEIGHTS, n), size, WEIGHTS)
    model = _rebuild(config, custom_objects, size, stored.keys())
    own = _own_weights(model)
    budget = safetensors_budget(sum(w.size for w in own.values()), len(own))
    data = archive.read(WEIGHTS, budget, needs=f"the architecture in {CONFIG} needs at "
                                               f"most {budget:,}")
    assign_weights(model, decode_arrays(data, WEIGHTS), WEIGHTS)
    if compile and "compile.json" in archive.names():
        _compile(model, archive, custom_objects)
    if restore_rng:
        _restore_rng(archive)
    return model


def _rebuild(config: dict, custom_objects: dict, weights_bytes: int, stored) -> Module:
    """The model ``config`` describes, its weights placeholders (read-only zeros) no
    more than ``weights_bytes`` values in all; lazy layers built (from shapes) with
    build_config when the weights file holds weights (names ``stored``) they have not
    made yet. A zero batch, where a module needs one, is bounded first."""
    build = _build_config(config.get("build_config"))
    with _building_guard(weights_bytes), \
            zero_batch_bound(lambda module, shape: _check_zero_batch(config, module, shape)):
        model = _deserialize_model(config, custom_objects)
        if not _is_model(model):
            raise ModelFormatError(f"{CONFIG}: class {config['class_name']!r} is not a Model.")
        if build is not None:
            model._build_input_shape, model._build_input_dtype = build
            if _own_weights(model).keys() != stored:
                model.build(*build)
    return model


def _deserialize_model(config: dict, custom_objects: dict) -> Module:
    try:
        return deserialize_layer(config, custom_objects)
    except ModelFormatError as err:
        raise ModelFormatError(f"{CONFIG}: {err}") from None


@contextlib.contextmanager
def _building_guard(weights_bytes: int) -> Iterator[None]:
    """While a file's architecture is rebuilt: weights start as read-only zeros that
    take no memory (no random draws), and there may not be more of them than the
    ``weights_bytes`` the weights member declares can hold (one byte a value at least)."""
    try:
        with initializers.placeholder_weights(weights_bytes):
            yield
    except initializers.WeightBudgetExceeded:
        raise ModelFormatError(f"{CONFIG}: the architecture needs more weight values than "
                               f"{WEIGHTS} can hold ({weights_bytes:,} bytes).") from None


def _build_config(build) -> tuple | None:
    if build is None:
        return None
    shape = build.get("input_shape") if isinstance(build, dict) else None
    dtype = build.get("input_dtype") if isinstance(build, dict) else None
    if not isinstance(shape, list) or len(shape) < 2 or shape[0] is not None \
            or not all(type(d) is int and d > 0 for d in shape[1:]) \
            or math.prod(shape[1:]) > MAX_SAMPLE_VALUES:
        raise ModelFormatError(f"{CONFIG}: build_config.input_shape {shape!r:.100} must be "
                               f"[null, positive ints...] of at most {MAX_SAMPLE_VALUES:,} "
                               f"values a sample.")
    if dtype is not None and dtype not in ("float16", "float32", "float64", "int32", "int64",
                                           "uint8", "bool"):
        raise ModelFormatError(f"{CONFIG}: unsupported build_config.input_dtype {dtype!r:.50}.")
    return tuple(shape), dtype


def _check_zero_batch(config: dict, module, input_shape) -> None:
    """Refuse a zero batch of ``input_shape`` (a shape, or a list/dict of them) through
    ``module`` that would cost more than the bounds allow (see ``_zero_batch_cost``)."""
    for shape in flat_shapes(input_shape):
        problem = _zero_batch_cost(config, [3 if d is None else d for d in shape[1:]])
        if problem:
            raise ModelFormatError(
                f"{CONFIG}: {type(module).__name__} cannot be built from shapes alone, so "
                f"building it runs a batch of zeros of shape {format_shape(shape):.100}, and "
                f"the architecture asks of it {problem}; chainrule does not run such a "
                f"batch for a file (build the model in code and use load_weights).")


def _zero_batch_cost(config: dict, dims: list[int]) -> str | None:
    """What is too much in a zero batch of samples of ``dims`` through the layers of
    ``config``, in words; None when it is within bounds.

    Per sample, a layer's output holds at most the input's values (its spatial axes
    grown by every zero padding, then by every upsampling factor and transposed
    convolution stride) times the widest layer's units or filters, and a
    convolution's im2col matrix that times its kernel area; an attention layer's
    scores hold heads x steps². Those products (``MAX_ZERO_BATCH_VALUES``: 64 MiB a
    sample in float32) bound the batch's memory; no layer may be wider than
    ``MAX_WIDTH``, and a recurrent layer (which loops over time in Python) may see at
    most ``MAX_TIMESTEPS`` steps."""
    layers = [(e["class_name"], e["config"]) for e in _objects(config)
              if isinstance(e.get("class_name"), str) and isinstance(e.get("config"), dict)]
    widest = max([1, *(v for _, c in layers for k, v in c.items()
                       if k in ("units", "filters", "output_dim") and type(v) is int)])
    kernel = max([1, *(_area(name, c.get("kernel_size")) for name, c in layers)])
    growth = math.prod(_area(name, c.get("size")) for name, c in layers
                       if name.startswith("UpSampling")) * \
        math.prod(_area(name, c.get("strides")) for name, c in layers
                  if name.endswith("Transpose"))
    pad = 2 * sum(sum(_ints(c.get("padding"))) for name, c in layers
                  if name.startswith("ZeroPadding"))
    values = math.prod(d + pad for d in dims[:-1]) * (dims[-1] if dims else 1)
    steps = dims[0] if dims else 1
    heads = max([0, *(c.get("num_heads") for name, c in layers
                      if name == "MultiHeadAttention" and type(c.get("num_heads")) is int)])
    cost = max(values * growth * widest * kernel, heads * steps * steps)
    if widest > MAX_WIDTH:
        return f"a layer of width {widest:,} (units or filters; at most {MAX_WIDTH:,})"
    if cost > MAX_ZERO_BATCH_VALUES:
        return (f"layers {widest:,} wide with kernels of {kernel:,} values"
                + (f", grown {growth:,} times" if growth > 1 else "")
                + f": up to {cost:,} values per sample (at most {MAX_ZERO_BATCH_VALUES:,})")
    if steps > MAX_TIMESTEPS and any(name in RECURRENT_LAYERS for name, _ in layers):
        return f"a recurrent layer over {steps:,} time steps (at most {MAX_TIMESTEPS:,})"
    return None


def _area(class_name: str, value) -> int:
    """The product of a window, size or stride over a layer's spatial axes: a list's
    ints multiplied, one int raised to the number of axes (2 for a "...2D" layer)."""
    if type(value) is int and value >= 0:
        return value ** (2 if "2D" in class_name else 1)
    return math.prod(_ints(value))


def _ints(value) -> list[int]:
    """The non-negative ints in a JSON value (an int, or lists of them); none otherwise."""
    if type(value) is int:
        return [value] if value >= 0 else []
    return [i for item in value for i in _ints(item)] if isinstance(value, list) else []


def _objects(obj) -> Iterator[dict]:
    """Every JSON object nested in ``obj`` (decode_json bounds the depth)."""
    if isinstance(obj, dict):
        yield obj
        obj = list(obj.values())
    if isinstance(obj, list):
        for item in obj:
            yield from _objects(item)


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


def _compile(model: Module, archive: Archive, custom_objects: dict) -> None:
    cfg = decode_json(archive.read("compile.json"), "compile.json")
    loss, metrics, loss_weights = _compile_arguments(cfg, custom_objects)
    state = None
    if "optimizer.json" in archive.names():  # the full state: hyperparameters, steps, moments
        state = decode_json(archive.read("optimizer.json"), "optimizer.json")
        optimizer = _deserialize_optimizer(state, custom_objects)
        state = {**state, "arrays": _optimizer_arrays(model, archive)}
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


def _optimizer_arrays(model: Module, archive: Archive) -> dict[str, np.ndarray]:
    """The optimizer's buffers: at most ``MAX_OPTIMIZER_SLOTS`` per parameter."""
    name = "optimizer.safetensors"
    if name not in archive.names():
        return {}
    params = list(model.parameters())
    budget = safetensors_budget(MAX_OPTIMIZER_SLOTS * sum(p.size for p in params),
                                MAX_OPTIMIZER_SLOTS * len(params))
    data = archive.read(name, budget, needs=f"{MAX_OPTIMIZER_SLOTS} buffers per parameter "
                                            f"of the model take at most {budget:,}")
    return decode_arrays(data, name)


def _restore_rng(archive: Archive) -> None:
    """Make chainrule's global generator continue from the state saved in the file."""
    state = decode_json(archive.read("metadata.json"), "metadata.json").get("rng") \
        if "metadata.json" in archive.names() else None
    if state is None:
        raise ModelFormatError("holds no random-generator state (saved by an older "
                               "chainrule?); load it with restore_rng=False.")
    try:
        backend.set_rng_state(state)
    except ValueError as err:
        raise ModelFormatError(f"metadata.json: {err}") from None


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
    ``model``: every name, shape and dtype must fit, else nothing changes. A file
    larger than the model's weights can take is refused before it is read."""
    path = os.fspath(filepath)
    shape = model._known_input_shape() if _is_model(model) else None
    if shape is not None and has_unbuilt_layers(model):
        model.build(shape, model._build_input_dtype)
    own = _own_weights(model)
    budget = safetensors_budget(sum(w.size for w in own.values()), len(own))
    needs = f"{type(model).__name__}'s weights take at most {budget:,}" + (
        " (is the model built? call it on data or model.build(input_shape) first)"
        if _is_model(model) and has_unbuilt_layers(model) else "")
    with open_regular(path) as f:
        is_zip = zipfile.is_zipfile(f)
    if is_zip:
        with Archive(path, required=(WEIGHTS,)) as archive:
            weights = decode_arrays(archive.read(WEIGHTS, budget, needs), f"{path!r}: {WEIGHTS}")
    else:
        size = os.stat(path).st_size
        if size > budget:
            raise ModelFormatError(f"{path!r} is {size:,} bytes; {needs}.")
        weights = load_arrays(path, budget)
    assign_weights(model, weights, repr(path))
