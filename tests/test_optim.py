"""Optimizers, schedules and gradient clipping against torch.optim, number for number.

Each optimizer runs 25 steps on the same tiny linear regression (fixed data, same
start, float64) in chainrule and in torch; the parameters must agree to 1e-6. Then what
torch cannot check: frozen parameters, packing, state_dict, construction errors. The
update rules against NumPy references, without torch: ``test_optim_rules.py``.
"""

import json

import numpy as np
import pytest
from helpers import torch

import chainrule as cr
from chainrule import optim
from chainrule.layers import Dense
from chainrule.module import Module, Parameter
from chainrule.optim.optimizer import PACK_SIZE

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 3))
Y = X @ np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]]) + 0.1 * RNG.normal(size=(16, 2))
W0 = RNG.normal(size=(3, 2))
B0 = RNG.normal(size=(2,))


def cr_params():
    return [Parameter(W0.copy()), Parameter(B0.copy())]


def cr_train(opt, params, steps):
    for _ in range(steps):
        opt.zero_grad()
        w, b = params
        ((cr.tensor(X) @ w + b - Y) ** 2).mean().backward()
        opt.step()
    return [p.data for p in params]


def torch_train(opt, params, steps):
    x, y = torch.tensor(X), torch.tensor(Y)
    for _ in range(steps):
        opt.zero_grad()
        w, b = params
        ((x @ w + b - y) ** 2).mean().backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def torch_params():
    return [torch.tensor(W0.copy(), requires_grad=True),
            torch.tensor(B0.copy(), requires_grad=True)]


def opt_case(name, cls, torch_name, **kwargs):
    return pytest.param(cls, torch_name, kwargs, id=name)


OPTIMIZERS = [
    opt_case("sgd", optim.SGD, "SGD", lr=0.05),
    opt_case("sgd_momentum", optim.SGD, "SGD", lr=0.05, momentum=0.9),
    opt_case("sgd_nesterov", optim.SGD, "SGD", lr=0.05, momentum=0.9, nesterov=True),
    opt_case("sgd_weight_decay", optim.SGD, "SGD", lr=0.05, weight_decay=0.1),
    opt_case("sgd_dampening", optim.SGD, "SGD", lr=0.05, momentum=0.8, dampening=0.3,
             weight_decay=0.01),
    opt_case("adagrad", optim.Adagrad, "Adagrad", lr=0.3),
    opt_case("adagrad_all", optim.Adagrad, "Adagrad", lr=0.3, lr_decay=0.05,
             weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6),
    opt_case("rmsprop", optim.RMSprop, "RMSprop", lr=0.01),
    opt_case("rmsprop_momentum", optim.RMSprop, "RMSprop", lr=0.01, momentum=0.9,
             weight_decay=0.05),
    opt_case("rmsprop_centered", optim.RMSprop, "RMSprop", lr=0.01, alpha=0.9, centered=True),
    opt_case("rmsprop_centered_momentum", optim.RMSprop, "RMSprop", lr=0.01, momentum=0.5,
             centered=True),
    opt_case("adam", optim.Adam, "Adam", lr=0.05),
    opt_case("adam_weight_decay", optim.Adam, "Adam", lr=0.05, weight_decay=0.1),
    opt_case("adam_amsgrad", optim.Adam, "Adam", lr=0.05, betas=(0.8, 0.99), amsgrad=True),
    opt_case("adamw", optim.AdamW, "AdamW", lr=0.05),
    opt_case("adamw_amsgrad", optim.AdamW, "AdamW", lr=0.05, weight_decay=0.2, amsgrad=True),
]


@pytest.mark.parametrize("cls,torch_name,kwargs", OPTIMIZERS)
def test_optimizer_matches_torch_over_25_steps(cls, torch_name, kwargs, torch):
    params = cr_params()
    ours = cr_train(cls(params, **kwargs), params, 25)
    tparams = torch_params()
    theirs = torch_train(getattr(torch.optim, torch_name)(tparams, **kwargs), tparams, 25)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert not np.allclose(ours[0], W0)  # it did train


@pytest.mark.parametrize("cls,torch_name,kwargs", OPTIMIZERS)
def test_float32_parameters_stay_float32(cls, torch_name, kwargs):
    params = [Parameter(W0.astype(np.float32)), Parameter(B0.astype(np.float32))]
    opt = cls(params, **kwargs)
    for p in params:
        p.grad = cr.tensor(np.ones(p.shape, np.float32))
    opt.step()
    assert all(p.dtype == np.float32 for p in params)
    assert all(a.dtype == np.float32 for a in opt.state_dict()["arrays"].values())


@pytest.mark.parametrize("cls", [optim.SGD, optim.AdamW, optim.Adam, optim.RMSprop,
                                 optim.Adagrad])
def test_frozen_or_gradless_parameters_are_untouched_even_with_weight_decay(cls):
    frozen = Parameter(W0.copy(), requires_grad=False)
    frozen.grad = cr.tensor(np.ones_like(W0))  # a stale gradient must not be used
    gradless = Parameter(B0.copy())
    live = Parameter(W0.copy())
    live.grad = cr.tensor(np.ones_like(W0))
    opt = cls([frozen, gradless, live], lr=0.1, weight_decay=0.5)
    opt.step()
    assert np.array_equal(frozen.data, W0) and np.array_equal(gradless.data, B0)
    assert not np.array_equal(live.data, W0)
    assert len(opt.state) == 1


def test_small_parameters_keep_each_buffer_kind_in_one_flat_array():
    """The private speed-up: the state arrays of parameters up to PACK_SIZE elements are
    views into one flat array per buffer kind (so the rule runs once for all of them); a
    larger parameter's are its own."""
    shapes = [(2, 3), (3,), (PACK_SIZE + 1,)]
    params = [Parameter(np.ones(shape, np.float32)) for shape in shapes]
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = cr.tensor(np.ones(p.shape, np.float32))
    opt.step()
    first, second, large = (opt.state[id(p)][1]["exp_avg"] for p in params)
    assert first.shape == (2, 3) and second.shape == (3,)
    assert first.base is not None and first.base is second.base
    assert large.base is None
    assert all(np.allclose(p.data, 0.9) for p in params)


def test_mixed_dtypes_and_a_parameter_listed_twice():
    mixed = [Parameter(np.ones(2, np.float32)), Parameter(np.ones(2))]  # two dtypes
    for p in mixed:
        p.grad = cr.tensor(np.ones(2, p.dtype))
    optim.SGD(mixed, lr=0.5).step()
    assert mixed[0].dtype == np.float32 and np.array_equal(mixed[1].data, [0.5, 0.5])
    twice = Parameter(np.ones(2))  # listed twice: updated twice, as torch
    twice.grad = cr.tensor(np.ones(2))
    optim.SGD([twice, twice], lr=0.5).step()
    assert np.array_equal(twice.data, [0.0, 0.0])


def test_hyperparameters_changed_between_steps_take_effect():
    w = Parameter(np.ones(1))
    opt = optim.SGD([w], lr=0.1)
    for lr, weight_decay in [(0.1, 0.0), (0.5, 1.0)]:
        opt.lr, opt.weight_decay = lr, weight_decay
        w.grad = cr.tensor(np.ones(1))
        opt.step()
    # p = 1 - 0.1 * 1 = 0.9;  g = 1 + 1.0 * 0.9 = 1.9, p = 0.9 - 0.5 * 1.9 = -0.05
    np.testing.assert_allclose(w.data, [-0.05], rtol=1e-12)


def test_read_only_weights_are_copied_and_grad_shapes_checked():
    frozen_memory = np.ones(3)
    frozen_memory.flags.writeable = False  # e.g. a memory-mapped file
    w = Parameter(frozen_memory)
    w.grad = cr.tensor(np.ones(3))
    opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    opt.step()
    assert np.array_equal(frozen_memory, np.ones(3)) and not np.allclose(w.data, 1.0)
    w.grad = cr.tensor(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"shape \(3,\) has a gradient of shape \(1, 3\)"):
        opt.step()
    w.data = np.ones(4)
    w.grad = cr.tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"changed shape from \(3,\) to \(4,\)"):
        opt.step()


def test_changing_a_hyperparameter_that_adds_a_buffer_rebuilds_the_layout():
    w = Parameter(np.ones(2))
    opt = optim.SGD([w], lr=0.5)
    for momentum in (0.0, 0.5):
        opt.momentum = momentum
        w.grad = cr.tensor(np.ones(2))
        opt.step()
    # the new buffer starts at zero: b = 0.5 * 0 + g, p = 1 - 0.5 - 0.5 g
    assert np.array_equal(w.data, [0.0, 0.0])
    assert np.array_equal(opt.state_dict()["arrays"]["0.momentum_buffer"], [1.0, 1.0])


# ---------------------------------------------------------------- construction


def test_learning_rate_is_an_alias_of_lr():
    assert optim.SGD(learning_rate=0.3).lr == 0.3
    assert optim.Adam(lr=0.02).lr == 0.02
    assert optim.Adam(lr=0.02, learning_rate=0.02).lr == 0.02
    with pytest.raises(ValueError, match="lr=0.5 and learning_rate=0.1"):
        optim.SGD(lr=0.5, learning_rate=0.1)
    with pytest.raises(ValueError, match="`lr` of `Adam`.*lr=-1"):
        optim.Adam(lr=-1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(momentum=0.0, nesterov=True)


def test_step_without_parameters_says_how_to_attach_them():
    with pytest.raises(RuntimeError, match=r"attach\(params\)"):
        optim.Adam().step()


def test_attach_a_live_parameter_view_before_a_lazy_layer_is_built():
    class Net(Module):
        def __init__(self):
            self.dense = Dense(2)

        def forward(self, x):
            return self.dense(x)

    net = Net()
    opt = optim.Adam(lr=0.1)
    opt.attach(net.parameters())  # no parameters exist yet
    assert len(list(opt.params)) == 0
    x = cr.tensor(X.astype(np.float32))
    before = None
    for _ in range(3):
        opt.zero_grad()
        loss = ((net(x) - Y.astype(np.float32)) ** 2).mean()
        if before is None:
            before = net.dense.kernel.data.copy()
        loss.backward()
        opt.step()
    assert not np.array_equal(net.dense.kernel.data, before)
    assert len(opt.state) == 2
    # a plain generator is stored as a list, so it can be read again every step
    w = Parameter(np.ones(2))
    gen_opt = optim.SGD((p for p in [w]), lr=1.0)
    for _ in range(2):
        w.grad = cr.tensor(np.ones(2))
        gen_opt.step()
    assert np.array_equal(w.data, [-1.0, -1.0])


def test_get_uses_keras_names_and_defaults():
    adam = optim.get("adam")
    assert isinstance(adam, optim.Adam) and (adam.lr, adam.eps) == (0.001, 1e-7)
    rms = optim.get("RMSprop")
    assert isinstance(rms, optim.RMSprop) and (rms.lr, rms.alpha, rms.eps) == (0.001, 0.9, 1e-7)
    assert optim.get("sgd").lr == 0.01
    ada = optim.get("adagrad")
    assert (ada.lr, ada.initial_accumulator_value, ada.eps) == (0.001, 0.1, 1e-7)
    assert isinstance(optim.get("adamw"), optim.AdamW)
    mine = optim.SGD(lr=0.5)
    assert optim.get(mine) is mine
    assert optim.get(optim.Adam).eps == 1e-8  # a class gets its own (torch) defaults
    rebuilt = optim.get(optim.Adam(lr=0.2, betas=(0.5, 0.6)).state_dict())
    assert rebuilt.lr == 0.2 and rebuilt.betas == (0.5, 0.6)
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamax'.*'adam'"):
        optim.get("adamax")


# ---------------------------------------------------------------- state_dict


@pytest.mark.parametrize("cls,torch_name,kwargs", OPTIMIZERS)
def test_state_dict_round_trip_resumes_exactly(cls, torch_name, kwargs):
    params_a = cr_params()
    a = cls(params_a, **kwargs)
    cr_train(a, params_a, 10)
    state = a.state_dict()
    json.dumps({k: v for k, v in state.items() if k != "arrays"})  # all but arrays JSON-able
    assert all(isinstance(v, np.ndarray) for v in state["arrays"].values())
    assert state["scalars"]["0.step"] == 10 and state["scalars"]["iterations"] == 10

    params_b = [Parameter(p.data.copy()) for p in params_a]
    b = cls(params_b, lr=123.0)
    b.load_state_dict(json.loads(json.dumps({k: v for k, v in state.items()
                                             if k != "arrays"})) | {"arrays": state["arrays"]})
    assert b.get_config() == a.get_config()
    ours_a = cr_train(a, params_a, 10)
    ours_b = cr_train(b, params_b, 10)
    for x, y in zip(ours_a, ours_b):
        assert np.array_equal(x, y)


def test_load_state_dict_errors():
    params = cr_params()
    adam = optim.Adam(params)
    cr_train(adam, params, 1)
    state = adam.state_dict()
    with pytest.raises(ValueError, match="saved by 'Adam', not 'SGD'"):
        optim.SGD(params).load_state_dict(state)
    with pytest.raises(ValueError, match=r"'0.exp_avg' has shape \(2,\).*\(3, 2\)"):
        optim.Adam(params).load_state_dict(state | {"arrays": state["arrays"]
                                                    | {"0.exp_avg": np.zeros(2)}})
    with pytest.raises(ValueError, match="parameter 0 but the optimizer has 0"):
        optim.Adam([]).load_state_dict(state)
    missing = {k: v for k, v in state["arrays"].items() if k != "1.exp_avg_sq"}
    with pytest.raises(ValueError, match=r"parameter 1 lacks \['exp_avg_sq'\]"):
        optim.Adam(params).load_state_dict(state | {"arrays": missing})


# ---------------------------------------------------------------- schedules


SCHEDULES = [
    pytest.param(lambda o: optim.StepLR(o, step_size=4, gamma=0.5),
                 lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
                 id="step"),
    pytest.param(lambda o: optim.ExponentialLR(o, gamma=0.9),
                 lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), id="exp"),
    pytest.param(lambda o: optim.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
                 lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10,
                                                                      eta_min=0.01),
                 id="cosine"),
    pytest.param(lambda o: optim.CosineAnnealingLR(o, T_max=7),
                 lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7),
                 id="cosine_default"),
]


@pytest.mark.parametrize("make,make_torch", SCHEDULES)
def test_schedules_match_torch_over_30_steps(make, make_torch, torch):
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched, tsched = make(opt), make_torch(topt)
    ours, theirs = [sched.get_last_lr()[0]], [tsched.get_last_lr()[0]]
    for _ in range(30):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        ours.append(sched.get_last_lr()[0])
        theirs.append(tsched.get_last_lr()[0])
        assert opt.lr == ours[-1]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


def test_schedule_state_dict_restores_the_epoch():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    sched = optim.StepLR(opt, step_size=2)
    for _ in range(5):
        sched.step()
    other = optim.StepLR(optim.SGD([Parameter(np.zeros(1))], lr=0.1), step_size=2)
    other.load_state_dict(sched.state_dict())
    assert other.get_last_lr() == sched.get_last_lr() == [pytest.approx(0.001)]


# ---------------------------------------------------------------- clip_grad_norm


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type, torch):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,)), np.asarray(rng.normal())]
    params = [Parameter(np.zeros_like(g)) for g in grads] + [Parameter(np.zeros(2))]
    for p, g in zip(params, grads):
        p.grad = cr.tensor(g.copy())
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g.copy())
    total = optim.clip_grad_norm(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total == pytest.approx(expected.item(), rel=1e-12)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert params[-1].grad is None


def test_clip_grad_norm_does_not_scale_shared_gradient_arrays_twice():
    shared = np.full(4, 3.0, dtype=np.float32)
    a, b = Parameter(np.zeros(4, np.float32)), Parameter(np.zeros(4, np.float32))
    a.grad, b.grad = cr.tensor(shared), cr.tensor(shared)
    total = optim.clip_grad_norm([a, b], max_norm=1.0)
    assert total == pytest.approx(np.sqrt(8 * 9.0), rel=1e-6)
    assert np.array_equal(shared, np.full(4, 3.0))  # the original array is untouched
    np.testing.assert_allclose(a.grad.data, b.grad.data)
    assert a.grad.dtype == np.float32
    assert np.sqrt(np.sum(a.grad.data**2) + np.sum(b.grad.data**2)) == pytest.approx(1.0,
                                                                                      rel=1e-5)
    assert optim.clip_grad_norm([], 1.0) == 0.0
