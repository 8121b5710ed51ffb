"""Every optimizer's update against its algorithm written out in plain NumPy: no torch.

Each reference below is torch.optim's documented algorithm (the pseudo-code of its
docs) in float64 NumPy, written without chainrule's code, in the manner of
scikit-learn's ``test_adam_optimizer``; a few cases are also worked by hand to the
last digit. Gradients are fixed arrays (not a loss), shrinking step by step so that
amsgrad's running maximum and RMSprop's centring both matter. With torch absent these
tests still catch a wrong rule (e.g. Adam without bias correction, RMSprop without
eps, SGD ignoring dampening, AdamW decaying like Adam, Adagrad without lr_decay).
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.module import Parameter
from chainrule.optim.optimizer import BLOCK_SIZE


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, nesterov=False,
                  weight_decay=0.0):
    b = None
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        if momentum:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def adagrad_reference(p, grads, lr, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10):
    state_sum = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g**2
        p = p - lr_t * g / (np.sqrt(state_sum) + eps)
    return p


def rmsprop_reference(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False):
    v, g_avg, b = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v - g_avg**2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            p = p - lr * b
        else:
            p = p - lr * g / (np.sqrt(v_tilde) + eps)
    return p


def adam_reference(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, decoupled=False):
    """Adam; ``decoupled`` is AdamW (p shrinks by lr weight_decay p, g is left alone)."""
    beta1, beta2 = betas
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        if amsgrad:
            v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def adamw_reference(p, grads, lr, weight_decay=0.01, **kwargs):
    return adam_reference(p, grads, lr, weight_decay=weight_decay, decoupled=True, **kwargs)


def ref_case(name, cls, reference, **kwargs):
    return pytest.param(cls, reference, kwargs, id=name)


REFERENCE_CASES = [
    ref_case("sgd", optim.SGD, sgd_reference, lr=0.1),
    ref_case("sgd_momentum", optim.SGD, sgd_reference, lr=0.1, momentum=0.9),
    ref_case("sgd_dampening", optim.SGD, sgd_reference, lr=0.1, momentum=0.8, dampening=0.3),
    ref_case("sgd_nesterov", optim.SGD, sgd_reference, lr=0.1, momentum=0.9, nesterov=True),
    ref_case("sgd_weight_decay", optim.SGD, sgd_reference, lr=0.1, momentum=0.5,
             weight_decay=0.2),
    ref_case("adagrad", optim.Adagrad, adagrad_reference, lr=0.3),
    ref_case("adagrad_lr_decay", optim.Adagrad, adagrad_reference, lr=0.3, lr_decay=0.5,
             weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-3),
    ref_case("rmsprop", optim.RMSprop, rmsprop_reference, lr=0.01),
    ref_case("rmsprop_eps", optim.RMSprop, rmsprop_reference, lr=0.01, alpha=0.9, eps=0.1),
    ref_case("rmsprop_momentum", optim.RMSprop, rmsprop_reference, lr=0.01, momentum=0.9,
             weight_decay=0.05),
    ref_case("rmsprop_centered", optim.RMSprop, rmsprop_reference, lr=0.01, alpha=0.9,
             centered=True),
    ref_case("rmsprop_centered_momentum", optim.RMSprop, rmsprop_reference, lr=0.01,
             momentum=0.5, centered=True, eps=1e-3),
    ref_case("adam", optim.Adam, adam_reference, lr=0.05),
    ref_case("adam_weight_decay", optim.Adam, adam_reference, lr=0.05, weight_decay=0.1),
    ref_case("adam_amsgrad", optim.Adam, adam_reference, lr=0.05, betas=(0.8, 0.99),
             amsgrad=True),
    ref_case("adamw", optim.AdamW, adamw_reference, lr=0.05),
    ref_case("adamw_amsgrad", optim.AdamW, adamw_reference, lr=0.05, weight_decay=0.2,
             amsgrad=True),
]
RNG = np.random.default_rng(0)
P0 = [RNG.normal(size=(2, 3)), RNG.normal(size=(3,))]
SCALES = (2.0, 1.0, 0.5, 0.25, 0.1)  # the gradients shrink: v falls, amsgrad's max bites
GRADS = [[scale * RNG.normal(size=p.shape) for scale in SCALES] for p in P0]


def run_with_grads(opt_cls, kwargs, p0, grads_per_param):
    """Parameters from ``p0``, one optimizer step per row of given gradients (None: no
    gradient that step); returns the final values."""
    params = [Parameter(p.copy()) for p in p0]
    opt = opt_cls(params, **kwargs)
    for grads in zip(*grads_per_param):
        for p, g in zip(params, grads):
            p.grad = None if g is None else cr.tensor(g)
        opt.step()
    return [p.data for p in params]


@pytest.mark.parametrize("cls,reference,kwargs", REFERENCE_CASES)
def test_update_matches_hand_derived_numpy_reference(cls, reference, kwargs):
    ours = run_with_grads(cls, kwargs, P0, GRADS)
    for p, p0, grads in zip(ours, P0, GRADS):
        expected = reference(p0, grads, **kwargs)
        np.testing.assert_allclose(p, expected, rtol=1e-10, atol=1e-12)
        assert not np.allclose(expected, p0, rtol=1e-3)  # the rule really moved p


def test_reference_cases_exercise_amsgrad_and_centering():
    """The fixed gradients make every optional branch change the result."""
    p0, grads = P0[0], GRADS[0]
    for reference, option, kwargs in [(adam_reference, {"amsgrad": True}, {}),
                                      (rmsprop_reference, {"centered": True}, {}),
                                      (adagrad_reference, {"lr_decay": 0.5}, {}),
                                      (sgd_reference, {"dampening": 0.3}, {"momentum": 0.8}),
                                      (adam_reference, {"decoupled": True},
                                       {"weight_decay": 0.1})]:
        with_option = reference(p0, grads, lr=0.05, **kwargs, **option)
        assert not np.allclose(with_option, reference(p0, grads, lr=0.05, **kwargs),
                               rtol=1e-4), option


def test_each_parameter_counts_its_own_steps():
    """torch keeps a step count per parameter: one that first gets a gradient at step 3,
    and none at step 4, has its bias correction at t = 1, 2 at steps 3, 5 (and is
    untouched at the others)."""
    sometimes = [None, None, GRADS[1][2], None, GRADS[1][4]]
    ours = run_with_grads(optim.Adam, {"lr": 0.05}, P0, [GRADS[0], sometimes])
    np.testing.assert_allclose(ours[0], adam_reference(P0[0], GRADS[0], lr=0.05),
                               rtol=1e-10, atol=1e-12)
    expected = adam_reference(P0[1], [GRADS[1][2], GRADS[1][4]], lr=0.05)
    np.testing.assert_allclose(ours[1], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls,reference,kwargs", REFERENCE_CASES)
def test_large_parameters_follow_the_same_rule(cls, reference, kwargs):
    """A parameter above BLOCK_SIZE elements is handed to the rule in blocks of rows
    (here three, the last one shorter), next to two small ones packed together."""
    rng = np.random.default_rng(5)
    p0 = [rng.normal(size=(700, 100)), rng.normal(size=(3,)), rng.normal(size=(4, 2))]
    assert BLOCK_SIZE < p0[0].size < 3 * BLOCK_SIZE
    grads = [[scale * rng.normal(size=p.shape) for scale in SCALES[:3]] for p in p0]
    ours = run_with_grads(cls, kwargs, p0, grads)
    for p, start, g in zip(ours, p0, grads):
        np.testing.assert_allclose(p, reference(start, g, **kwargs), rtol=1e-10, atol=1e-12)


class NormalizedSGD(optim.Optimizer):
    """p = p - lr g / |g|: the norm is per tensor, so the rule is not elementwise."""

    elementwise = False

    def __init__(self, params=None, lr: float = 0.1):
        super().__init__(params, lr)

    def _update(self, p, g, state):
        p -= self.lr * g / np.linalg.norm(g)


def test_a_rule_that_is_not_elementwise_sees_whole_parameters():
    rng = np.random.default_rng(6)
    p0 = [rng.normal(size=(2, 3)), rng.normal(size=(3,)), rng.normal(size=(700, 100))]
    ours = run_with_grads(NormalizedSGD, {"lr": 0.1}, p0, [[rng.normal(size=p.shape)]
                                                           for p in p0])
    for p, start in zip(ours, p0):
        assert np.linalg.norm(p - start) == pytest.approx(0.1, rel=1e-12)


# Worked by hand on one weight p0 = 1 (each line of the comment is one step).
WORKED = [
    # b = 1;  b = 0.9 * 1 + (1 - 0.5) * 1 = 1.4;  b = 0.9 * 1.4 + 0.5 = 1.76
    # p = 1 - 0.1 * (1 + 1.4 + 1.76) = 0.584
    pytest.param(optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5), [1.0, 1.0, 1.0], 0.584,
                 id="sgd_momentum_dampening"),
    # b = 1, d = 1 + 0.9 * 1 = 1.9;  b = 0.9 + 1 = 1.9, d = 1 + 0.9 * 1.9 = 2.71
    # p = 1 - 0.1 * (1.9 + 2.71) = 0.539
    pytest.param(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True), [1.0, 1.0], 0.539,
                 id="sgd_nesterov"),
    # g = 1 + 0.5 * 1 = 1.5, p = 0.85;  g = 1 + 0.5 * 0.85 = 1.425, p = 0.85 - 0.1425
    pytest.param(optim.SGD, dict(lr=0.1, weight_decay=0.5), [1.0, 1.0], 0.7075,
                 id="sgd_weight_decay"),
    # s = 9, p = 1 - 0.1 * 3 / 3 = 0.9;  s = 25, lr = 0.1 / (1 + 1 * 1) = 0.05,
    # p = 0.9 - 0.05 * 4 / 5 = 0.86
    pytest.param(optim.Adagrad, dict(lr=0.1, lr_decay=1.0, eps=0.0), [3.0, 4.0], 0.86,
                 id="adagrad_lr_decay"),
    # v = 0.25 * 4 = 1, p = 1 - 0.1 * 2 / (1 + 1) = 0.9;
    # v = 0.75 * 1 + 0.25 * 1 = 1, p = 0.9 - 0.1 * 1 / (1 + 1) = 0.85
    pytest.param(optim.RMSprop, dict(lr=0.1, alpha=0.75, eps=1.0), [2.0, 1.0], 0.85,
                 id="rmsprop_eps"),
    # m_hat = 2 (1 - 0.9^t) / (1 - 0.9^t) = 2, v_hat = 4: every step is 0.1 * 2 / 2
    pytest.param(optim.Adam, dict(lr=0.1, eps=0.0), [2.0, 2.0, 2.0], 0.7,
                 id="adam_bias_correction"),
    # p = 0.95 p - 0.1 (the Adam step is 0.1 as above):
    # 0.95 - 0.1 = 0.85;  0.8075 - 0.1 = 0.7075;  0.672125 - 0.1 = 0.572125
    pytest.param(optim.AdamW, dict(lr=0.1, weight_decay=0.5, eps=0.0), [2.0, 2.0, 2.0],
                 0.572125, id="adamw_decoupled"),
]


@pytest.mark.parametrize("cls,kwargs,grads,expected", WORKED)
def test_update_matches_numbers_worked_by_hand(cls, kwargs, grads, expected):
    ours = run_with_grads(cls, kwargs, [np.ones(1)], [[np.array([g]) for g in grads]])
    np.testing.assert_allclose(ours[0], [expected], rtol=1e-12)
