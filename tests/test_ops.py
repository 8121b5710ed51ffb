"""Every op and Tensor method of DESIGN §2, one line each, checked by ``check_op``.

Each row runs in chainrule and torch (when installed) and through ``cr.gradcheck``,
and its forward value is compared with ``ref``, the op's formula written out in
NumPy here (so a wrong constant fails without torch). Random inputs stay away from
kinks and ties (``min_abs``, ``positive``); the tie rules themselves have their own
tests at the end, as does numerical stability.
"""

import importlib
import pathlib
import pkgutil

import numpy as np
import pytest
from helpers import HAS_TORCH, check_op, random_inputs, torch

import chainrule as cr
from chainrule.autograd import Function, topological_order

F = torch.nn.functional if HAS_TORCH else None
DTYPES = [np.float64, np.float32]


def case(name, shapes, fn, fn_torch=None, *, ref, **options):
    """One row: ``ref`` is the NumPy reference of the forward value (required)."""
    return pytest.param(shapes, fn, fn_torch, {**options, "reference": ref}, id=name)


# ---------------------------------------------------------------- NumPy formulas


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gelu(x):
    """torch's approximate="tanh" GELU: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis):
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def logsumexp(x, axis=None, keepdims=False):
    return np.log(np.exp(x).sum(axis=axis, keepdims=keepdims))


def pad_value_by_hand(x):
    out = np.full((2, 5, 6), 1.5)
    out[:, 2:, 1:5] = x
    return out


def dims(axis, ndim):
    """chainrule's axis=None as torch's explicit tuple of every dim."""
    return tuple(range(ndim)) if axis is None else axis


# ---------------------------------------------------------------- arithmetic

BINARY = [
    case("add", [(45, 65), (45, 1)], lambda x, y: x + y,
         ref=np.add),
    case("add_3d_2d", [(3, 1, 4), (5, 4)], lambda x, y: x + y,
         ref=np.add),
    case("add_scalar_matrix", [(), (3, 4)], lambda x, y: x + y,
         ref=np.add),
    case("sub", [(3, 1, 4), (5, 4)], lambda x, y: x - y,
         ref=np.subtract),
    case("sub_matrix_scalar", [(3, 4), ()], lambda x, y: x - y,
         ref=np.subtract),
    case("sub_column", [(45, 65), (45, 1)], lambda x, y: x - y,
         ref=np.subtract),
    case("mul", [(45, 65), (45, 1)], lambda x, y: x * y,
         ref=np.multiply),
    case("mul_3d_2d", [(3, 1, 4), (5, 4)], lambda x, y: x * y,
         ref=np.multiply),
    case("mul_scalar_matrix", [(), (3, 4)], lambda x, y: x * y,
         ref=np.multiply),
    case("mul_self", [(4, 3)], lambda x: x * x,
         ref=lambda x: x * x),
    case("div", [(45, 65), (45, 1)], lambda x, y: x / y, min_abs=0.5,
         ref=np.divide),
    case("div_3d_2d", [(3, 1, 4), (5, 4)], lambda x, y: x / (y.abs() + 1), min_abs=0.1,
         ref=lambda x, y: x / (np.abs(y) + 1)),
    case("div_matrix_scalar", [(3, 4), ()], lambda x, y: x / y, min_abs=0.5,
         ref=np.divide),
    case("div_scalar_matrix", [(), (3, 4)], lambda x, y: x / y, min_abs=0.5,
         ref=np.divide),
    case("neg", [(3, 4)], lambda x: -x,
         ref=np.negative),
    case("pow_square", [(3, 4)], lambda x: x**2,
         ref=lambda x: x * x),
    case("pow_cube", [(3, 4)], lambda x: x**3,
         ref=lambda x: x * x * x),
    case("pow_sqrt", [(3, 4)], lambda x: x**0.5, positive=True,
         ref=np.sqrt),
    case("pow_negative_exponent", [(3, 4)], lambda x: x**-1.5, positive=True,
         ref=lambda x: 1 / (x * np.sqrt(x))),
    case("pow_scalar_base", [(3, 4)], lambda x: 2.0**x,
         ref=lambda x: np.exp(x * np.log(2.0))),
    case("pow_tensor_tensor", [(3, 4), (3, 4)], lambda x, y: x**y, positive=True,
         ref=lambda x, y: np.exp(y * np.log(x))),
    case("pow_tensor_tensor_broadcast", [(3, 1, 4), (5, 4)], lambda x, y: x**y, positive=True,
         ref=lambda x, y: np.exp(y * np.log(x))),
    case("radd_python", [(3, 4)], lambda x: 1.5 + x,
         ref=lambda x: 1.5 + x),
    case("rsub_python", [(3, 4)], lambda x: 1.5 - x,
         ref=lambda x: 1.5 - x),
    case("rmul_python", [(3, 4)], lambda x: 2 * x,
         ref=lambda x: 2 * x),
    case("rdiv_python", [(3, 4)], lambda x: 3.0 / x, min_abs=0.5,
         ref=lambda x: 3.0 / x),
    case("div_python", [(3, 4)], lambda x: x / 3,
         ref=lambda x: x / 3),
    case("square", [(3, 4)], lambda x: x.square(),
         ref=lambda x: x * x),
    case("maximum", [(3, 1, 4), (5, 4)], lambda x, y: x.maximum(y), torch.maximum if HAS_TORCH
         else None,
         ref=np.maximum),
    case("minimum", [(45, 65), (45, 1)], lambda x, y: x.minimum(y), torch.minimum if HAS_TORCH
         else None,
         ref=np.minimum),
    case("cr_maximum", [(3, 4), ()], cr.maximum, lambda x, y: torch.maximum(x, y),
         ref=np.maximum),
    case("cr_minimum", [(), (3, 4)], cr.minimum, lambda x, y: torch.minimum(x, y),
         ref=np.minimum),
    case("maximum_python", [(3, 4)], lambda x: x.maximum(0.3), lambda x: x.clamp(min=0.3),
         ref=lambda x: np.where(x > 0.3, x, 0.3)),
    case("minimum_python", [(3, 4)], lambda x: x.minimum(0.3), lambda x: x.clamp(max=0.3),
         ref=lambda x: np.where(x < 0.3, x, 0.3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", BINARY)
def test_arithmetic(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


# ---------------------------------------------------------------- matmul

MATMUL = [
    case("2d", [(3, 4), (4, 5)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('ik,kj->ij', x, y)),
    case("vector_matrix", [(4,), (4, 5)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('k,kj->j', x, y)),
    case("matrix_vector", [(3, 4), (4,)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('ik,k->i', x, y)),
    case("vector_vector", [(4,), (4,)], lambda x, y: x @ y,
         ref=lambda x, y: (x * y).sum()),
    case("batched_shared_weight", [(2, 3, 4), (4, 5)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('bik,kj->bij', x, y)),
    case("batched", [(2, 3, 4), (2, 4, 5)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('bik,bkj->bij', x, y)),
    case("broadcast_batched", [(2, 1, 3, 4), (5, 4, 2)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('aik,bkj->abij', x[:, 0], y)),
    case("matrix_batched", [(3, 4), (2, 4, 5)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('ik,bkj->bij', x, y)),
    case("vector_batched", [(4,), (2, 4, 5)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('k,bkj->bj', x, y)),
    case("batched_vector", [(2, 3, 4), (4,)], lambda x, y: x @ y,
         ref=lambda x, y: np.einsum('bik,k->bi', x, y)),
    case("method", [(3, 4), (4, 5)], lambda x, y: x.matmul(y),
         ref=lambda x, y: np.einsum('ik,kj->ij', x, y)),
    case("function", [(2, 3, 4), (4, 5)], cr.matmul, lambda x, y: torch.matmul(x, y),
         ref=lambda x, y: np.einsum('bik,kj->bij', x, y)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", MATMUL)
def test_matmul(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


def test_rmatmul_with_numpy_array():
    w = np.random.default_rng(3).standard_normal((2, 3))
    check_op([(3, 4)], lambda x: w @ x, lambda x: torch.from_numpy(w) @ x,
             reference=lambda x: np.einsum("ik,kj->ij", w, x))


# ---------------------------------------------------------------- reductions

AXES = [None, 0, 1, 2, -1, (0, 2), (0, 1, 2)]
REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(axis=a, keepdims=k),
            lambda x, a, k: x.sum(dim=dims(a, 3), keepdim=k)),
    "mean": (lambda x, a, k: x.mean(axis=a, keepdims=k),
             lambda x, a, k: x.mean(dim=dims(a, 3), keepdim=k)),
    "max": (lambda x, a, k: x.max(axis=a, keepdims=k),
            lambda x, a, k: torch.amax(x, dim=dims(a, 3), keepdim=k)),
    "min": (lambda x, a, k: x.min(axis=a, keepdims=k),
            lambda x, a, k: torch.amin(x, dim=dims(a, 3), keepdim=k)),
    "var": (lambda x, a, k: x.var(axis=a, keepdims=k),
            lambda x, a, k: x.var(dim=dims(a, 3), keepdim=k, correction=0)),
    "std": (lambda x, a, k: x.std(axis=a, keepdims=k),
            lambda x, a, k: x.std(dim=dims(a, 3), keepdim=k, correction=0)),
    "logsumexp": (lambda x, a, k: x.logsumexp(axis=a, keepdims=k),
                  lambda x, a, k: x.logsumexp(dim=dims(a, 3), keepdim=k)),
}


REDUCTION_REFERENCES = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
    "var": lambda x, axis, keepdims: np.mean((x - np.mean(x, axis, keepdims=True)) ** 2, axis,
                                             keepdims=keepdims),
    "std": lambda x, axis, keepdims: np.sqrt(np.mean((x - np.mean(x, axis, keepdims=True)) ** 2,
                                                     axis, keepdims=keepdims)),
    "logsumexp": logsumexp,
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reductions(name, axis, keepdims):
    fn, fn_torch = REDUCTIONS[name]
    ref = REDUCTION_REFERENCES[name]
    check_op([(3, 4, 5)], lambda x: fn(x, axis, keepdims), lambda x: fn_torch(x, axis, keepdims),
             reference=lambda x: ref(x, axis, keepdims=keepdims))


OTHER_REDUCTIONS = [
    case("sum_1d", [(7,)], lambda x: x.sum(),
         ref=np.sum),
    case("sum_0d", [()], lambda x: x.sum(),
         ref=np.sum),
    case("mean_large", [(45, 65)], lambda x: x.mean(axis=0),
         ref=lambda x: x.sum(axis=0) / len(x)),
    case("var_ddof1", [(4, 5)], lambda x: x.var(axis=1, ddof=1),
         lambda x: x.var(dim=1, correction=1),
         ref=lambda x: ((x - x.mean(1, keepdims=True)) ** 2).sum(1) / 4),
    case("std_ddof1_all", [(4, 5)], lambda x: x.std(ddof=1), lambda x: x.std(correction=1),
         ref=lambda x: np.sqrt(((x - x.mean()) ** 2).sum() / 19)),
    case("max_all_default", [(4, 5)], lambda x: x.max(), lambda x: x.max(),
         ref=np.max),
    case("cr_sum", [(4, 5)], lambda x: cr.sum(x, axis=1), lambda x: torch.sum(x, dim=1),
         ref=lambda x: x.sum(axis=1)),
    case("cr_mean", [(4, 5)], lambda x: cr.mean(x, 0), lambda x: torch.mean(x, 0),
         ref=lambda x: x.mean(0)),
    case("cr_max", [(4, 5)], lambda x: cr.max(x, axis=1), lambda x: torch.amax(x, dim=1),
         ref=lambda x: x.max(axis=1)),
    case("cr_var", [(4, 5)], lambda x: cr.var(x, axis=0),
         lambda x: torch.var(x, dim=0, correction=0),
         ref=lambda x: ((x - x.mean(0)) ** 2).mean(0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", OTHER_REDUCTIONS)
def test_other_reductions(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


# ---------------------------------------------------------------- elementwise math and activations

UNARY = [
    case("exp", [(45, 65)], lambda x: x.exp(),
         ref=np.exp),
    case("log", [(3, 4)], lambda x: x.log(), positive=True,
         ref=np.log),
    case("sqrt", [(3, 4)], lambda x: x.sqrt(), positive=True,
         ref=np.sqrt),
    case("abs", [(3, 4)], lambda x: x.abs(), min_abs=0.1,
         ref=np.abs),
    case("tanh", [(3, 4)], lambda x: x.tanh(),
         ref=np.tanh),
    case("sigmoid", [(3, 4)], lambda x: x.sigmoid(), low=-8, high=8,
         ref=sigmoid),
    case("relu", [(3, 4)], lambda x: x.relu(), min_abs=0.1,
         ref=lambda x: np.where(x > 0, x, 0)),
    case("leaky_relu", [(3, 4)], lambda x: x.leaky_relu(), lambda x: F.leaky_relu(x),
         min_abs=0.1,
         ref=lambda x: np.where(x > 0, x, 0.01 * x)),
    case("leaky_relu_alpha", [(3, 4)], lambda x: x.leaky_relu(0.2),
         lambda x: F.leaky_relu(x, 0.2), min_abs=0.1,
         ref=lambda x: np.where(x > 0, x, 0.2 * x)),
    case("elu", [(3, 4)], lambda x: x.elu(), lambda x: F.elu(x), min_abs=0.1,
         ref=lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    case("elu_alpha", [(3, 4)], lambda x: x.elu(alpha=0.5), lambda x: F.elu(x, alpha=0.5),
         min_abs=0.1,
         ref=lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    case("gelu", [(3, 4)], lambda x: x.gelu(), lambda x: F.gelu(x, approximate="tanh"),
         low=-4, high=4,
         ref=gelu),
    case("clip", [(3, 4)], lambda x: x.clip(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7),
         ref=lambda x: np.minimum(np.maximum(x, -0.5), 0.7)),
    case("clip_min", [(3, 4)], lambda x: x.clip(min=-0.5), lambda x: x.clamp(min=-0.5),
         ref=lambda x: np.maximum(x, -0.5)),
    case("clip_max", [(3, 4)], lambda x: x.clip(max=0.7), lambda x: x.clamp(max=0.7),
         ref=lambda x: np.minimum(x, 0.7)),
    case("cr_exp", [(3, 4)], cr.exp, lambda x: torch.exp(x),
         ref=np.exp),
    case("cr_log", [(3, 4)], cr.log, lambda x: torch.log(x), positive=True,
         ref=np.log),
    case("cr_sqrt", [(3, 4)], cr.sqrt, lambda x: torch.sqrt(x), positive=True,
         ref=np.sqrt),
    case("cr_abs", [(3, 4)], cr.abs, lambda x: torch.abs(x), min_abs=0.1,
         ref=np.abs),
    case("cr_tanh", [(3, 4)], cr.tanh, lambda x: torch.tanh(x),
         ref=np.tanh),
    case("cr_sigmoid", [(3, 4)], cr.sigmoid, lambda x: torch.sigmoid(x),
         ref=sigmoid),
    case("cr_relu", [(3, 4)], cr.relu, lambda x: torch.relu(x), min_abs=0.1,
         ref=lambda x: np.where(x > 0, x, 0)),
    case("cr_clip", [(3, 4)], lambda x: cr.clip(x, -0.5, 0.5), lambda x: x.clamp(-0.5, 0.5),
         ref=lambda x: np.minimum(np.maximum(x, -0.5), 0.5)),
    case("cr_gelu", [(3, 4)], cr.gelu, lambda x: F.gelu(x, approximate="tanh"),
         ref=gelu),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", UNARY)
def test_unary(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


MASK = np.random.default_rng(7).random((3, 4)) > 0.5

WHERE = [
    case("where", [(3, 4), (3, 4)], lambda x, y: cr.where(MASK, x, y),
         lambda x, y: torch.where(torch.from_numpy(MASK), x, y),
         ref=lambda x, y: np.where(MASK, x, y)),
    case("where_broadcast", [(3, 1), (4,)], lambda x, y: cr.where(MASK, x, y),
         lambda x, y: torch.where(torch.from_numpy(MASK), x, y),
         ref=lambda x, y: np.where(MASK, x, y)),
    case("where_scalar_other", [(3, 4)], lambda x: cr.where(MASK, x, 0.0),
         lambda x: torch.where(torch.from_numpy(MASK), x, 0.0),
         ref=lambda x: np.where(MASK, x, 0.0)),
    case("where_tensor_condition", [(3, 4), (3, 4)], lambda x, y: cr.where(x > y, x, y),
         lambda x, y: torch.where(x > y, x, y),
         ref=np.maximum),
    case("where_method", [(3, 4), (3, 4)], lambda x, y: x.where(MASK, y),
         lambda x, y: x.where(torch.from_numpy(MASK), y),
         ref=lambda x, y: np.where(MASK, x, y)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", WHERE)
def test_where(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


# ---------------------------------------------------------------- softmax family


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name, axis, dtype):
    ref = {"softmax": softmax, "log_softmax": log_softmax}[name]
    check_op([(3, 4, 5)], lambda x: getattr(x, name)(axis), low=-5, high=5, dtype=dtype,
             reference=lambda x: ref(x, axis))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_functions(dtype):
    check_op([(4, 6)], lambda x: cr.softmax(x, axis=0), lambda x: torch.softmax(x, dim=0),
             dtype=dtype, reference=lambda x: softmax(x, 0))
    check_op([(4, 6)], lambda x: cr.log_softmax(x), lambda x: torch.log_softmax(x, dim=-1),
             dtype=dtype, reference=lambda x: log_softmax(x, -1))
    check_op([(4, 6)], lambda x: cr.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, dim=1),
             dtype=dtype, reference=lambda x: logsumexp(x, 1))


# ---------------------------------------------------------------- shape ops

SHAPE = [
    case("reshape", [(4, 5)], lambda x: x.reshape(2, 10),
         ref=lambda x: x.reshape(2, 10)),
    case("reshape_minus_one", [(4, 5)], lambda x: x.reshape(-1, 2),
         ref=lambda x: x.reshape(10, 2)),
    case("reshape_tuple", [(4, 5)], lambda x: x.reshape((5, -1)),
         ref=lambda x: x.reshape(5, 4)),
    case("reshape_to_scalar", [(1, 1)], lambda x: x.reshape(()),
         ref=lambda x: x[0, 0]),
    case("transpose_default", [(2, 3, 4)], lambda x: x.transpose(), lambda x: x.permute(2, 1, 0),
         ref=lambda x: np.einsum('ijk->kji', x)),
    case("transpose_axes", [(2, 3, 4)], lambda x: x.transpose(1, 0, 2),
         lambda x: x.permute(1, 0, 2),
         ref=lambda x: np.einsum('ijk->jik', x)),
    case("transpose_tuple", [(2, 3, 4)], lambda x: x.transpose((2, 0, 1)),
         lambda x: x.permute(2, 0, 1),
         ref=lambda x: np.einsum('ijk->kij', x)),
    case("T", [(3, 4)], lambda x: x.T,
         ref=lambda x: np.einsum('ij->ji', x)),
    case("T_3d", [(2, 3, 4)], lambda x: x.T, lambda x: x.permute(2, 1, 0),
         ref=lambda x: np.einsum('ijk->kji', x)),
    case("permute", [(2, 3, 4)], lambda x: x.permute(2, 0, 1),
         ref=lambda x: np.einsum('ijk->kij', x)),
    case("permute_tuple", [(2, 3, 4)], lambda x: x.permute((1, 2, 0)),
         ref=lambda x: np.einsum('ijk->jki', x)),
    case("flatten", [(2, 3, 4)], lambda x: x.flatten(),
         ref=lambda x: x.ravel()),
    case("squeeze_all", [(1, 3, 1, 4)], lambda x: x.squeeze(),
         ref=lambda x: x[0, :, 0]),
    case("squeeze_axis", [(1, 3, 1, 4)], lambda x: x.squeeze(2),
         ref=lambda x: x[:, :, 0]),
    case("squeeze_axes", [(1, 3, 1, 4)], lambda x: x.squeeze((0, 2)),
         ref=lambda x: x[0, :, 0]),
    case("unsqueeze_front", [(3, 4)], lambda x: x.unsqueeze(0),
         ref=lambda x: x[None]),
    case("unsqueeze_middle", [(3, 4)], lambda x: x.unsqueeze(1),
         ref=lambda x: x[:, None]),
    case("unsqueeze_back", [(3, 4)], lambda x: x.unsqueeze(-1),
         ref=lambda x: x[..., None]),
    case("expand", [(4, 1)], lambda x: x.expand(3, 4, 5),
         ref=lambda x: x + np.zeros((3, 4, 5))),
    case("expand_tuple", [(1, 5)], lambda x: x.expand((4, 5)),
         ref=lambda x: x + np.zeros((4, 5))),
    case("broadcast_to", [(3, 1)], lambda x: x.broadcast_to((2, 3, 4)),
         ref=lambda x: x + np.zeros((2, 3, 4))),
    case("pad", [(3, 4)], lambda x: x.pad(((1, 2), (0, 3))), lambda x: F.pad(x, (0, 3, 1, 2)),
         ref=lambda x: np.block([[np.zeros((1, 7))], [x, np.zeros((3, 3))], [np.zeros((2, 7))]])),
    case("pad_int", [(3, 4)], lambda x: x.pad(1), lambda x: F.pad(x, (1, 1, 1, 1)),
         ref=lambda x: np.block([[np.zeros((1, 6))], [np.zeros((3, 1)), x, np.zeros((3, 1))],
                                 [np.zeros((1, 6))]])),
    case("pad_value", [(2, 3, 4)], lambda x: x.pad(((0, 0), (2, 0), (1, 1)), value=1.5),
         lambda x: F.pad(x, (1, 1, 2, 0), value=1.5),
         ref=pad_value_by_hand),
    case("cr_reshape", [(4, 5)], lambda x: cr.reshape(x, (10, 2)),
         lambda x: torch.reshape(x, (10, 2)),
         ref=lambda x: x.reshape(10, 2)),
    case("cr_transpose", [(4, 5)], cr.transpose, lambda x: x.T,
         ref=lambda x: np.einsum('ij->ji', x)),
    case("cr_pad", [(4,)], lambda x: cr.pad(x, (2, 1)), lambda x: F.pad(x, (2, 1)),
         ref=lambda x: np.concatenate([[0, 0], x, [0]])),
    case("concat", [(2, 3), (4, 3), (1, 3)], lambda *xs: cr.concat(xs),
         lambda *xs: torch.cat(xs),
         ref=lambda *xs: np.vstack(xs)),
    case("concat_axis1", [(3, 2), (3, 4)], lambda *xs: cr.concat(xs, axis=1),
         lambda *xs: torch.cat(xs, dim=1),
         ref=lambda *xs: np.hstack(xs)),
    case("concat_negative_axis", [(2, 3, 1), (2, 3, 2)], lambda *xs: cr.concat(xs, axis=-1),
         lambda *xs: torch.cat(xs, dim=-1),
         ref=lambda *xs: np.dstack(xs)),
    case("stack", [(3, 4), (3, 4)], lambda *xs: cr.stack(xs), lambda *xs: torch.stack(xs),
         ref=lambda *xs: np.array(xs)),
    case("stack_axis1", [(3, 4), (3, 4), (3, 4)], lambda *xs: cr.stack(xs, axis=1),
         lambda *xs: torch.stack(xs, dim=1),
         ref=lambda *xs: np.array(xs).swapaxes(0, 1)),
    case("stack_last", [(3, 4), (3, 4)], lambda *xs: cr.stack(xs, axis=-1),
         lambda *xs: torch.stack(xs, dim=-1),
         ref=lambda *xs: np.dstack(xs)),
    case("split_sections", [(6, 4)], lambda x: cr.split(x, 3),
         lambda x: torch.tensor_split(x, 3),
         ref=lambda x: [x[0:2], x[2:4], x[4:6]]),
    case("split_indices", [(3, 6)], lambda x: cr.split(x, [1, 4], axis=1),
         lambda x: torch.tensor_split(x, [1, 4], dim=1),
         ref=lambda x: [x[:, :1], x[:, 1:4], x[:, 4:]]),
    case("split_negative_axis", [(2, 3, 4)], lambda x: cr.split(x, 2, axis=-1),
         lambda x: torch.tensor_split(x, 2, dim=-1),
         ref=lambda x: [x[..., :2], x[..., 2:]]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", SHAPE)
def test_shape_ops(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


# ---------------------------------------------------------------- indexing

BOOL_2D = np.random.default_rng(11).random((4, 5)) > 0.4
BOOL_ROWS = np.array([True, False, True, True])
BOOL_COLS = np.array([False, True, True, False, True])

INDEX = [
    case("int", [(4, 5)], lambda x: x[1],
         ref=lambda x: x[1]),
    case("negative_int", [(4, 5)], lambda x: x[-1],
         ref=lambda x: x[3]),
    case("two_ints", [(4, 5)], lambda x: x[2, 3],
         ref=lambda x: x[2][3]),
    case("slice", [(4, 5)], lambda x: x[1:3],
         ref=lambda x: x[[1, 2]]),
    case("slice_step", [(4, 5)], lambda x: x[:, ::2],
         ref=lambda x: x[:, [0, 2, 4]]),
    case("slice_open", [(4, 5)], lambda x: x[2:, :-1],
         ref=lambda x: x[[2, 3]][:, :4]),
    case("negative_step", [(4, 5)], lambda x: x[::-1], lambda x: x.flip(0),
         ref=lambda x: x[[3, 2, 1, 0]]),
    case("negative_step_2", [(4, 5)], lambda x: x[:, ::-2], lambda x: x.flip(1)[:, ::2],
         ref=lambda x: x[:, [4, 2, 0]]),
    case("negative_step_window", [(4, 5)], lambda x: x[3:0:-1], lambda x: x.flip(0)[0:3],
         ref=lambda x: x[[3, 2, 1]]),
    case("none", [(4, 5)], lambda x: x[None],
         ref=lambda x: x.reshape(1, 4, 5)),
    case("none_middle", [(4, 5)], lambda x: x[:, None],
         ref=lambda x: x.reshape(4, 1, 5)),
    case("ellipsis", [(2, 3, 4)], lambda x: x[..., 1],
         ref=lambda x: x[:, :, 1]),
    case("ellipsis_none", [(2, 3, 4)], lambda x: x[1, ..., None],
         ref=lambda x: x[1].reshape(3, 4, 1)),
    case("int_array_repeated", [(4, 5)], lambda x: x[[0, 0, 2, 0]],
         ref=lambda x: np.stack([x[0], x[0], x[2], x[0]])),
    case("int_array_numpy", [(4, 5)], lambda x: x[np.array([3, 1, 3])],
         lambda x: x[torch.tensor([3, 1, 3])],
         ref=lambda x: np.stack([x[3], x[1], x[3]])),
    case("int_array_tensor", [(4, 5)], lambda x: x[cr.tensor([1, 1])],
         lambda x: x[torch.tensor([1, 1])],
         ref=lambda x: np.stack([x[1], x[1]])),
    case("int_array_columns", [(4, 5)], lambda x: x[:, [4, 4, 0]],
         ref=lambda x: np.stack([x[:, 4], x[:, 4], x[:, 0]], axis=1)),
    case("int_array_pairs", [(4, 5)], lambda x: x[[0, 2, 0], [1, 1, 1]],
         ref=lambda x: np.array([x[0, 1], x[2, 1], x[0, 1]])),
    case("int_array_2d", [(4, 5)], lambda x: x[np.array([[0, 1], [1, 1]])],
         lambda x: x[torch.tensor([[0, 1], [1, 1]])],
         ref=lambda x: np.stack([np.stack([x[0], x[1]]), np.stack([x[1], x[1]])])),
    case("int_array_and_slice", [(4, 5, 3)], lambda x: x[[2, 2], 1:],
         ref=lambda x: np.stack([x[2, 1:], x[2, 1:]])),
    case("bool_mask", [(4, 5)], lambda x: x[BOOL_2D], lambda x: x[torch.from_numpy(BOOL_2D)],
         ref=lambda x: x.ravel()[BOOL_2D.ravel().nonzero()[0]]),
    case("bool_rows", [(4, 5)], lambda x: x[BOOL_ROWS],
         lambda x: x[torch.from_numpy(BOOL_ROWS)],
         ref=lambda x: x[[0, 2, 3]]),
    case("bool_cols", [(4, 5)], lambda x: x[:, BOOL_COLS],
         lambda x: x[:, torch.from_numpy(BOOL_COLS)],
         ref=lambda x: x[:, [1, 2, 4]]),
    case("bool_tensor_mask", [(4, 5)], lambda x: x[x > 0.5], lambda x: x[x > 0.5],
         ref=lambda x: np.array([v for v in x.ravel() if v > 0.5])),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", INDEX)
def test_getitem(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


def test_repeated_index_accumulates():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


# ---------------------------------------------------------------- composites


COMPOSITES = [
    case("mse", [(8, 3), (8, 3)], lambda p, t: ((p - t) ** 2).mean(),
         ref=lambda p, t: ((p - t) ** 2).mean()),
    case("dense_tanh", [(5, 4), (4, 3), (3,)], lambda x, w, b: (x @ w + b).tanh(),
         ref=lambda x, w, b: np.tanh(np.einsum('ik,kj->ij', x, w) + b)),
    case("normalize", [(5, 4)], lambda x: (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-3),
         lambda x: (x - x.mean(dim=0)) / (x.std(dim=0, correction=0) + 1e-3),
         ref=lambda x: (x - x.mean(0)) / (np.sqrt(((x - x.mean(0)) ** 2).mean(0)) + 1e-3)),
    case("cross_entropy_like", [(5, 4)], lambda x: -x.log_softmax(1)[np.arange(5), [0, 3, 1, 1, 2]]
         .mean(), lambda x: -x.log_softmax(1)[torch.arange(5), [0, 3, 1, 1, 2]].mean(),
         ref=lambda x: -np.mean([log_softmax(x, 1)[i, c] for i, c in enumerate([0, 3, 1, 1, 2])])),
    case("reuse", [(3, 4)], lambda x: x * x.sigmoid() + x.exp().sum(axis=0),
         ref=lambda x: x * sigmoid(x) + np.exp(x).sum(axis=0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,fn,fn_torch,options", COMPOSITES)
def test_composites(shapes, fn, fn_torch, options, dtype):
    check_op(shapes, fn, fn_torch, dtype=dtype, **options)


# ---------------------------------------------------------------- tie rules (DESIGN §2)


def grad_of(fn, *values):
    """Gradients of ``fn(*tensors).sum()`` with respect to each input."""
    xs = [cr.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.data for x in xs]


def test_max_tie_goes_to_first_maximal_element():
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    (g,) = grad_of(lambda t: t.max(axis=1), x)
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])
    (g,) = grad_of(lambda t: t.max(axis=0), x)
    np.testing.assert_array_equal(g, [[0, 1, 1], [1, 0, 0]])
    (g,) = grad_of(lambda t: t.max(), [[3.0, 1.0], [3.0, 3.0]])
    np.testing.assert_array_equal(g, [[1, 0], [0, 0]])
    (g,) = grad_of(lambda t: t.max(axis=(0, 1), keepdims=True), [[1.0, 3.0], [3.0, 3.0]])
    np.testing.assert_array_equal(g, [[0, 1], [0, 0]])


def test_min_tie_goes_to_first_minimal_element():
    (g,) = grad_of(lambda t: t.min(axis=1), [[0.0, -1.0, -1.0], [5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(g, [[0, 1, 0], [1, 0, 0]])


def test_maximum_tie_goes_to_first_input():
    gx, gy = grad_of(lambda x, y: x.maximum(y), [1.0, 2.0, 5.0], [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(gx, [1, 0, 1])
    np.testing.assert_array_equal(gy, [0, 1, 0])


def test_minimum_tie_goes_to_first_input():
    gx, gy = grad_of(lambda x, y: x.minimum(y), [1.0, 4.0, 5.0], [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(gx, [1, 0, 1])
    np.testing.assert_array_equal(gy, [0, 1, 0])


def test_clip_passes_gradient_at_the_bound():
    (g,) = grad_of(lambda t: t.clip(-1.0, 1.0), [-2.0, -1.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])


def test_relu_and_abs_gradient_zero_at_zero():
    (g,) = grad_of(lambda t: t.relu(), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0, 0, 1])
    (g,) = grad_of(lambda t: t.abs(), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1, 0, 1])


# ---------------------------------------------------------------- numerical stability


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "sigmoid"])
def test_large_inputs_stay_finite(name, dtype):
    x = cr.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype),
                  requires_grad=True)
    y = x.sigmoid() if name == "sigmoid" else getattr(x, name)(axis=1)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.data)), y.data
    y.backward(np.linspace(-1, 1, y.size).reshape(y.shape))
    assert np.all(np.isfinite(x.grad.data)), x.grad.data


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_input_values(dtype):
    x = cr.tensor(np.array([1e4, -1e4, 0.0], dtype=dtype))
    np.testing.assert_allclose(x.softmax().data, [1, 0, 0])
    np.testing.assert_allclose(x.log_softmax().data, [0, -2e4, -1e4])
    np.testing.assert_allclose(x.sigmoid().data, [1, 0, 0.5])
    np.testing.assert_allclose(cr.tensor(np.array([1e4, 1e4], dtype=dtype)).logsumexp().item(),
                               1e4 + np.log(2), rtol=1e-6)


# ---------------------------------------------------------------- every op has a NumPy reference

TESTS = pathlib.Path(__file__).resolve().parent
# Ops whose forward value is compared with a NumPy formula in another test file.
REFERENCED_ELSEWHERE = {
    "Cast": "test_ops.py::test_astype_rounds_like_numpy",
    "Linear": "test_functional.py::test_function_equals_its_numpy_formula",
    "Conv2d": "test_conv_ops.py::test_conv2d_equals_the_textbook_convolution",
    "Conv1d": "test_conv_ops.py::test_conv1d_equals_the_textbook_convolution",
    "MaxPool2d": "test_conv_ops.py::test_pooling_equals_its_textbook_reference",
    "AvgPool2d": "test_conv_ops.py::test_pooling_equals_its_textbook_reference",
    "MaxPool1d": "test_conv_ops.py::test_max_pool1d_equals_its_textbook_reference",
    "AvgPool1d": "test_pooling.py::test_avg_pool1d_op",
    "ConvTranspose2d": "test_conv_transpose.py::test_op_matches_torch_and_its_textbook_loop",
    "Attention": "test_attention.py::test_op_equals_its_textbook_rows",
    "UpsampleBilinear2d": "test_reshaping.py::test_bilinear_op_matches_torch_and_its_textbook_loop",
    "BatchNorm": "test_normalization.py::test_batch_norm_op_training",
    "SyncBatchNorm": "test_distributed.py::test_sync_batch_norm_over_one_process_is_batch_norm",
    "LayerNorm": "test_normalization.py::test_layer_norm_op",
    "Embedding": "test_embedding.py::test_embedding_op",
    "SoftmaxCrossEntropy": "test_functional.py::test_function_equals_its_numpy_formula",
    "SigmoidBinaryCrossEntropy": "test_functional.py::test_function_equals_its_numpy_formula",
    "BinaryCrossEntropy": "test_functional.py::test_function_equals_its_numpy_formula",
    "SimpleRNNSequence": "test_recurrent.py::test_simple_rnn_two_steps_by_hand",
    "LSTMSequence": "test_recurrent.py::test_lstm_two_steps_by_hand",
    "GRUSequence": "test_recurrent.py::test_gru_two_steps_by_hand",
}


def test_astype_rounds_like_numpy():
    x = np.random.default_rng(5).uniform(-2, 2, (3, 4))
    t = cr.tensor(x, requires_grad=True)
    y = t.astype(np.float32)
    np.testing.assert_array_equal(y.data, x.astype(np.float32))
    y.backward(np.full((3, 4), 0.5, np.float32))
    assert t.grad.dtype == np.float64 and np.all(t.grad.data == 0.5)


def _all_ops() -> set:
    """The name of every public Function subclass defined in chainrule.ops."""
    names = set()
    for info in pkgutil.iter_modules(cr.ops.__path__):
        module = importlib.import_module(f"chainrule.ops.{info.name}")
        names |= {name for name, obj in vars(module).items()
                  if isinstance(obj, type) and issubclass(obj, Function)
                  and obj.__module__ == module.__name__ and not name.startswith("_")}
    return names


def _ops_used(fn, shapes) -> set:
    xs = [cr.tensor(a, requires_grad=True) for a in random_inputs(shapes, positive=True)]
    out = fn(*xs)
    return {type(node).__name__ for o in (out if isinstance(out, list | tuple) else [out])
            for node in topological_order(o._ctx)}


def test_every_op_has_a_numpy_reference():
    used = set()
    for table in (BINARY, MATMUL, OTHER_REDUCTIONS, UNARY, WHERE, SHAPE, INDEX, COMPOSITES):
        for row in table:  # each row has its reference (``case`` requires one)
            shapes, fn, _, _ = row.values
            used |= _ops_used(fn, shapes)
    for fn, _ in REDUCTIONS.values():  # test_reductions, with REDUCTION_REFERENCES
        used |= _ops_used(lambda x, fn=fn: fn(x, 1, False), [(3, 4)])
    used |= _ops_used(lambda x: x.softmax(0) + x.log_softmax(1), [(3, 4)])  # test_softmax_*
    missing = _all_ops() - used - set(REFERENCED_ELSEWHERE)
    assert not missing, f"ops without a NumPy reference for their forward value: {missing}"
    for op, where in REFERENCED_ELSEWHERE.items():
        file, test = where.split("::")
        assert f"def {test}(" in (TESTS / file).read_text(), f"{op}: {where} is gone"
