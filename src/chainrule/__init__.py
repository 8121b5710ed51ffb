"""chainrule: a readable deep-learning framework on NumPy.

``import chainrule as cr`` gives tensors and autograd (``cr.tensor``,
``cr.no_grad``, ``cr.gradcheck``), and the subpackages ``cr.functional``,
``cr.layers``, ``cr.losses``, ``cr.optim``, ``cr.models`` and friends.

``import chainrule as keras`` gives Keras' names, each one of chainrule's own objects
(docs/keras.md): ``keras.Sequential``, ``keras.Model``, ``keras.Input``,
``keras.layers``, ``keras.optimizers``, ``keras.losses``, ``keras.metrics``,
``keras.callbacks``, ``keras.initializers``, ``keras.activations``,
``keras.regularizers``, ``keras.constraints``, ``keras.utils``, ``keras.datasets``.
"""

from . import tensor as _tensor_module
from .autograd import GradcheckError, ShapeError, enable_grad, gradcheck, is_grad_enabled, no_grad
from .backend import get_default_dtype, manual_seed, set_default_dtype
from .tensor import (
    Tensor,
    arange,
    as_tensor,
    concat,
    full,
    matmul,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randn,
    split,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)

globals().update(_tensor_module.functions)  # cr.exp, cr.sum, cr.reshape, ...

from . import (  # noqa: E402
    activations,
    callbacks,
    constraints,
    data,
    distributed,
    functional,
    generative,
    initializers,
    io,
    layers,
    losses,
    metrics,
    models,
    onnx,
    optim,
    optimizers,
    regularizers,
    unsupervised,
    utils,
    viz,
)
from .data import datasets  # noqa: E402
from .models import Input, Model, Sequential  # noqa: E402
from .module import Module, Parameter  # noqa: E402
from .version import __version__  # noqa: E402
