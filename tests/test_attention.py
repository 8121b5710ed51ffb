"""Attention: the fused op against its textbook rows, ``scaled_dot_product_attention``
against torch's, and ``MultiHeadAttention`` against ``torch.nn.MultiheadAttention``
given the same weights (mapped from Keras' layout, see docs/layers.md), with masks.
A masked key or value is perturbed and the output must not move."""

import json

import numpy as np
import pytest
from helpers import HAS_TORCH, assert_close, check_op, torch
from layer_helpers import layer_gradcheck, randomize

import chainrule as cr
import chainrule.functional as F
import chainrule.ops.attention as attention_ops
from chainrule.autograd import ShapeError
from chainrule.io import decode_arrays, decode_json, encode_arrays, encode_json
from chainrule.layers import MultiHeadAttention, deserialize_layer, serialize_layer
from chainrule.ops.attention import (
    Attention,
    attention_backward_reference,
    attention_reference,
)

if HAS_TORCH:
    import torch.nn.functional as TF

B, T, S = 2, 4, 5
TOL = {np.float64: 1e-10, np.float32: 1e-5}


def _mask(seed, shape=(B, 1, T, S)):
    """A random boolean mask that leaves every query at least one key (key 0)."""
    mask = np.random.default_rng(seed).random(shape) > 0.4
    mask[..., 0] = True
    return mask


# ---------------------------------------------------------------- the op


@pytest.mark.parametrize("masked,dropped", [(False, False), (True, False), (True, True)])
def test_op_equals_its_textbook_rows(masked, dropped):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((B, 3, T, 6), (B, 3, S, 6), (B, 3, S, 2)))
    mask = _mask(1) if masked else None
    keep = (rng.random((B, 3, T, S)) > 0.3) / 0.7 if dropped else None
    ts = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = Attention.apply(*ts, None, mask=mask, scale=0.4, keep=keep)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    expected, p = attention_reference(q, k, v, mask, 0.4, keep)
    assert_close(out.data, expected, rtol=1e-12, atol=1e-12, what="output")
    for t, e, name in zip(ts, attention_backward_reference(q, k, v, p, grad, mask, 0.4, keep),
                          ("dq", "dk", "dv")):
        assert_close(t.grad.data, e, rtol=1e-10, atol=1e-12, what=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_op_in_chunks_on_head_views_equals_its_textbook_rows(monkeypatch, threads):
    """q, k, v as (B, L, H, E) arrays seen as (B, H, L, E) (as MultiHeadAttention
    passes them), the batch cut into one-element chunks on one or two workers: the
    textbook values and gradients, and the output and gradients laid out (B, L, H, E)."""
    monkeypatch.setattr(attention_ops, "SCORES_BYTES", 1)
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((3, n, 2, e)) for n, e in ((T, 6), (S, 6), (S, 4))]
    mask, keep = _mask(7, (3, 1, T, S)), (rng.random((3, 2, T, S)) > 0.3) / 0.7
    leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
    with cr.backend.limit_blas_threads(threads):
        out = Attention.apply(*(t.transpose(0, 2, 1, 3) for t in leaves), None, mask=mask,
                              scale=0.3, keep=keep)
        grad = rng.standard_normal(out.shape)
        out.backward(grad)
    q, k, v = (a.transpose(0, 2, 1, 3) for a in arrays)
    expected, p = attention_reference(q, k, v, mask, 0.3, keep)
    assert_close(out.data, expected, rtol=1e-12, atol=1e-12, what="output")
    assert out.data.transpose(0, 2, 1, 3).flags.c_contiguous
    for t, e, name in zip(leaves, attention_backward_reference(q, k, v, p, grad, mask, 0.3,
                                                               keep), ("dq", "dk", "dv")):
        assert_close(t.grad.data, e.transpose(0, 2, 1, 3), rtol=1e-10, atol=1e-12, what=name)


def test_fully_masked_query_gets_zero_weights_and_output():
    q, k, v = (cr.randn(1, 2, 3, requires_grad=True) for _ in range(3))
    mask = np.array([[[True, False], [False, False]]])
    out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, need_weights=True)
    np.testing.assert_array_equal(weights.numpy()[0, 1], [0, 0])
    np.testing.assert_array_equal(out.numpy()[0, 1], 0)
    out.sum().backward()
    assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))


# ---------------------------------------------------------------- the function against torch


SDPA_CASES = {
    "plain": {},
    "bool_mask": {"attn_mask": _mask(2)},
    "float_mask": {"attn_mask": np.random.default_rng(3).standard_normal((T, S))},
    "causal": {"is_causal": True},
    "causal_scaled": {"is_causal": True, "scale": 0.3},
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", SDPA_CASES)
def test_scaled_dot_product_attention_matches_torch(case, dtype):
    options = SDPA_CASES[case]

    def theirs(q, k, v):
        torch_options = {key: (torch.tensor(value, dtype=q.dtype) if value.dtype.kind == "f"
                               else torch.from_numpy(value))
                         if isinstance(value, np.ndarray) else value
                         for key, value in options.items()}
        return TF.scaled_dot_product_attention(q, k, v, **torch_options)

    mask = options.get("attn_mask")
    causal = F.causal_mask(T, S) if options.get("is_causal") else None
    bool_mask = causal if mask is None or mask.dtype.kind == "f" else mask
    scale = options.get("scale", 1 / np.sqrt(6))

    def reference(q, k, v):
        if mask is not None and mask.dtype.kind == "f":  # added to the scores: q' k = q k + m
            s = q @ np.swapaxes(k, -1, -2) * scale + mask
            p = np.exp(s - s.max(-1, keepdims=True))
            return (p / p.sum(-1, keepdims=True)) @ v
        return attention_reference(q, k, v, bool_mask, scale)[0]

    check_op([(B, 3, T, 6), (B, 3, S, 6), (B, 3, S, 4)],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **options), theirs,
             dtype=dtype, reference=reference)


def test_float_mask_receives_its_gradient():
    check_op([(2, T, 3), (2, S, 3), (2, S, 2), (T, S)],
             lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
             lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m))


def test_softmax_is_stable_for_huge_scores():
    q = cr.tensor(np.full((1, 2, 4), 100.0), requires_grad=True)
    k = cr.tensor(np.array([[[100.0] * 4, [-100.0] * 4, [99.9] * 4]]))
    v = cr.tensor(np.arange(6.0).reshape(1, 3, 2))
    out, weights = F.scaled_dot_product_attention(q, k, v, scale=1.0, need_weights=True)
    assert np.isfinite(out.numpy()).all() and np.isfinite(weights.numpy()).all()
    assert weights.numpy()[0, 0, 1] == 0  # e^-80000 underflows to exactly 0
    np.testing.assert_allclose(weights.numpy().sum(-1), 1)
    out.sum().backward()
    assert np.isfinite(q.grad.numpy()).all()


def test_masked_keys_get_exactly_zero_weight_and_never_reach_the_output():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal(s) for s in ((B, T, 3), (B, S, 3), (B, S, 2)))
    mask = _mask(5, (B, T, S))
    out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, need_weights=True)
    assert np.all(weights.numpy()[~mask] == 0)
    for b, s in zip(*np.nonzero(~mask.any(axis=1))):  # keys no query may see
        k2, v2 = k.copy(), v.copy()
        k2[b, s], v2[b, s] = 1e6, -1e6
        again = F.scaled_dot_product_attention(q, k2, v2, attn_mask=mask)
        np.testing.assert_array_equal(again.numpy(), out.numpy())


def test_dropout_is_seeded_and_scales_the_kept_weights():
    q, k, v = (cr.tensor(np.random.default_rng(i).standard_normal((64, 8, 4)))
               for i in range(3))
    cr.manual_seed(7)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    cr.manual_seed(7)
    keep = (cr.backend.rng().random((64, 8, 8)) >= 0.5) * 2.0
    expected = attention_reference(q.data, k.data, v.data, None, 0.5, keep)[0]
    np.testing.assert_allclose(a, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"`dropout_p`.*dropout_p=1"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1)


def test_errors_name_the_shapes():
    with pytest.raises(ShapeError, match=r"share their last axis"):
        F.scaled_dot_product_attention(cr.ones(2, 3, 4), cr.ones(2, 5, 3), cr.ones(2, 5, 3))
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(3, 4\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(cr.ones(2, 3, 4), cr.ones(2, 5, 4), cr.ones(2, 5, 4),
                                       attn_mask=np.ones((3, 4), bool))


# ---------------------------------------------------------------- MultiHeadAttention


def _torch_mha(layer, leaves, query, key, value, value_mask, causal):
    """torch's nn.MultiheadAttention given Keras-layout leaves (name -> torch tensor):
    q/k/v projection (E, E or d) = kernel.reshape(d, E).T, out_proj = output kernel
    reshaped (E, E) and transposed; key_padding_mask = ~value_mask, attn_mask = ~causal."""
    from torch.func import functional_call
    heads, e = layer.num_heads, query.shape[-1]
    d_k, d_v = key.shape[-1], value.shape[-1]
    module = torch.nn.MultiheadAttention(e, heads, kdim=d_k, vdim=d_v, batch_first=True)
    module = module.to(query.dtype)
    wq, wk, wv = (leaves[f"{n}.kernel"].reshape(-1, e).T for n in ("query", "key", "value"))
    params = {"in_proj_bias": torch.cat([leaves[f"{n}.bias"].reshape(-1)
                                         for n in ("query", "key", "value")]),
              "out_proj.weight": leaves["attention_output.kernel"].reshape(e, e).T,
              "out_proj.bias": leaves["attention_output.bias"]}
    if d_k == d_v == e:
        params["in_proj_weight"] = torch.cat([wq, wk, wv])
    else:
        params.update(q_proj_weight=wq, k_proj_weight=wk, v_proj_weight=wv)
    options = {"need_weights": True, "average_attn_weights": False}
    if value_mask is not None:
        options["key_padding_mask"] = torch.from_numpy(~value_mask)
    if causal:
        options["attn_mask"] = torch.from_numpy(~F.causal_mask(query.shape[1], key.shape[1]))
    return functional_call(module, params, (query, key, value), options)


MHA_CASES = {  # d_query, d_key_value, separate key, value mask, causal
    "self": (8, 8, False, False, False),
    "cross_kdim": (8, 5, True, False, False),
    "key_padding": (8, 8, False, True, False),
    "causal": (8, 8, False, False, True),
    "both_masks": (8, 6, True, True, True),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_matches_torch(torch, case, dtype):
    d_q, d_kv, separate_key, masked, causal = MHA_CASES[case]
    cr.set_default_dtype(dtype)
    rng = np.random.default_rng(10)
    arrays = [rng.standard_normal((B, T, d_q)), rng.standard_normal((B, S, d_kv)),
              rng.standard_normal((B, S, d_kv))]
    query, value, key = (a.astype(dtype) for a in arrays)
    t_len = T if causal else S  # the causal mask is square: keys as long as queries
    value, key = value[:, :t_len], key[:, :t_len]
    value_mask = _mask(11, (B, t_len)) if masked else None
    layer = MultiHeadAttention(num_heads=2, key_dim=d_q // 2)
    ins = [cr.tensor(a, requires_grad=True) for a in (query, value, key)]
    layer(ins[0], ins[1], ins[2] if separate_key else None)  # build
    randomize(layer, 12, scale=0.5)
    out, scores = layer(ins[0], ins[1], ins[2] if separate_key else None,
                        value_mask=value_mask, use_causal_mask=causal,
                        return_attention_scores=True)
    grad = rng.standard_normal(out.shape).astype(dtype)
    out.backward(grad)

    leaves = {n: torch.tensor(p.data, requires_grad=True) for n, p in layer.named_parameters()}
    tins = [torch.tensor(a, requires_grad=True) for a in (query, value, key)]
    t_out, t_scores = _torch_mha(layer, leaves, tins[0], tins[2] if separate_key else tins[1],
                                 tins[1], value_mask, causal)
    (t_out * torch.from_numpy(grad)).sum().backward()
    tol = TOL[dtype]
    assert out.dtype == dtype
    assert_close(out.data, t_out.detach().numpy(), rtol=tol, atol=tol, what="output")
    assert_close(scores.data, t_scores.detach().numpy(), rtol=tol, atol=tol, what="scores")
    for name, mine, theirs in zip(("query", "value", "key"), ins, tins):
        if name == "key" and not separate_key:
            continue
        assert_close(mine.grad.data, theirs.grad.numpy(), rtol=tol, atol=tol,
                     what=f"grad of {name}")
    for name, p in layer.named_parameters():
        assert_close(p.grad.data, leaves[name].grad.numpy(), rtol=tol, atol=tol,
                     what=f"grad of {name}")


def test_weights_follow_keras_layout_and_count():
    """Keras: MultiHeadAttention(num_heads=2, key_dim=3) on query (B, T, 4) and value
    (B, S, 5) has 130 parameters."""
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    out = layer(np.ones((1, 6, 4)), np.ones((1, 7, 5)))
    shapes = {n: p.shape for n, p in layer.named_parameters()}
    assert shapes == {"query.kernel": (4, 2, 3), "query.bias": (2, 3),
                      "key.kernel": (5, 2, 3), "key.bias": (2, 3),
                      "value.kernel": (5, 2, 3), "value.bias": (2, 3),
                      "attention_output.kernel": (2, 3, 4), "attention_output.bias": (4,)}
    assert layer.count_params() == 130 and out.shape == (1, 6, 4)
    assert list(layer.state_dict())[:2] == ["query.kernel", "query.bias"]
    wide = MultiHeadAttention(4, 2, value_dim=3, output_shape=7, use_bias=False)
    assert wide(np.ones((2, 3, 5)), np.ones((2, 4, 6))).shape == (2, 3, 7)
    assert wide.attention_output.kernel.shape == (4, 3, 7) and wide.count_params() == (
        5 * 8 + 6 * 8 + 6 * 12 + 12 * 7)
    assert wide.compute_output_shape((None, 3, 5)) == (None, 3, 7)


def test_masked_position_never_changes_the_output():
    """Perturbing a masked value/key (value_mask, as from Embedding(mask_zero=True)) or a
    future position (use_causal_mask) leaves the output unchanged, bit for bit."""
    cr.set_default_dtype(np.float64)
    rng = np.random.default_rng(20)
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    x = rng.standard_normal((B, S, 6))
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 0]], bool)
    base = layer(x, x, query_mask=np.ones((B, S), bool), value_mask=mask).numpy()
    perturbed = x.copy()
    perturbed[~mask] = rng.standard_normal((int((~mask).sum()), 6)) * 1e3
    again = layer(x, perturbed, query_mask=np.ones((B, S), bool), value_mask=mask).numpy()
    np.testing.assert_array_equal(again, base)
    causal = layer(x, x, use_causal_mask=True).numpy()
    later = x.copy()
    later[:, 3:] += 50
    np.testing.assert_array_equal(layer(later, later, use_causal_mask=True).numpy()[:, :3],
                                  causal[:, :3])


def test_self_attention_takes_the_model_mask_for_query_and_value():
    """``mask=`` (a model's mask of the first input) is the query mask, and the value
    mask when the value is the query; padded queries get the output bias alone."""
    cr.set_default_dtype(np.float64)
    layer = MultiHeadAttention(num_heads=2, key_dim=2, bias_initializer="normal")
    x = cr.tensor(np.random.default_rng(21).standard_normal((2, 4, 3)))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    out, scores = layer(x, x, mask=mask, return_attention_scores=True)
    explicit = layer(x, x, query_mask=mask, value_mask=mask)
    np.testing.assert_array_equal(out.numpy(), explicit.numpy())
    assert np.all(scores.numpy()[0, :, :, 3] == 0) and np.all(scores.numpy()[1, :, 2:] == 0)
    np.testing.assert_allclose(out.numpy()[1, 3], layer.attention_output.bias.numpy())
    assert layer.compute_mask(x, mask) is mask


def test_attention_mask_combines_with_the_causal_mask():
    rng = np.random.default_rng(22)
    layer = MultiHeadAttention(num_heads=1, key_dim=2)
    q = rng.standard_normal((1, 3, 2))
    allowed = np.array([[[1, 0, 1], [1, 1, 1], [0, 1, 1]]], bool)
    _, scores = layer(q, q, attention_mask=allowed, use_causal_mask=True,
                      return_attention_scores=True)
    visible = scores.numpy()[0, 0] > 0
    np.testing.assert_array_equal(visible, allowed[0] & np.tril(np.ones((3, 3), bool)))


def test_dropout_only_in_training():
    cr.manual_seed(0)
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5)
    x = np.random.default_rng(23).standard_normal((2, 5, 8))
    layer.eval()
    a, b = layer(x, x).numpy(), layer(x, x).numpy()
    np.testing.assert_array_equal(a, b)
    layer.train()
    assert not np.allclose(layer(x, x).numpy(), a)
    np.testing.assert_array_equal(layer(x, x, training=False).numpy(), a)


def test_gradcheck_through_every_weight_with_masks():
    cr.set_default_dtype(np.float64)
    layer = MultiHeadAttention(num_heads=2, key_dim=2, value_dim=3, output_shape=3)
    rng = np.random.default_rng(24)
    x, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], bool)
    layer(x, memory)  # build
    randomize(layer, 25, scale=0.5)
    layer_gradcheck(layer, x, memory,
                    call=lambda module, q, v: module(q, v, value_mask=mask))


def test_config_round_trip_and_save_load_through_the_file_format():
    """get_config -> JSON -> the layer registry, weights -> safetensors -> the clone:
    the same outputs bit for bit."""
    cr.set_default_dtype(np.float64)
    layer = MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, dropout=0.1,
                               output_shape=5, use_bias=False, name="attn")
    q, v = (np.random.default_rng(i).standard_normal((2, 3, 6)) for i in (26, 27))
    expected = layer(q, v, training=False).numpy()
    config = decode_json(encode_json(serialize_layer(layer)), "config")
    assert json.loads(json.dumps(config)) == config
    clone = deserialize_layer(config)
    assert clone.get_config() == layer.get_config()
    clone(q, v)  # build
    clone.load_state_dict(decode_arrays(encode_arrays(layer.state_dict()), "weights"))
    np.testing.assert_array_equal(clone(q, v, training=False).numpy(), expected)


@pytest.mark.parametrize("make,message", [
    (lambda: MultiHeadAttention(0, 2), "num_heads=0"),
    (lambda: MultiHeadAttention(2, 2.5), "key_dim=2.5"),
    (lambda: MultiHeadAttention(2, 2, dropout=1.0), "dropout=1.0"),
    (lambda: MultiHeadAttention(2, 2, output_shape=(3, 4)), r"output_shape=\(3, 4\)"),
    (lambda: MultiHeadAttention(2, 2, attention_axes=(1,)), "attention_axes"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_name_the_layer():
    layer = MultiHeadAttention(2, 2)
    with pytest.raises(ValueError, match=r"value as \(batch, sequence, features\).*\(2, 3\)"):
        layer(np.ones((2, 3, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"value_mask must have shape \(2, 5\).*\(2, 4\)"):
        layer(np.ones((2, 3, 4)), np.ones((2, 5, 4)), value_mask=np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"batch size"):
        layer(np.ones((2, 3, 4)), np.ones((3, 5, 4)))


def test_every_weight_exists_after_the_first_call_and_with_input_shape():
    """The call builds the key and value projections from their inputs' shapes before
    running (what a functional model needs to know its weights from shapes alone)."""
    layer = MultiHeadAttention(2, 3, input_shape=(6, 4))
    assert layer.built and layer.query.kernel.shape == (4, 2, 3)
    assert layer.key.kernel is None and layer.attention_output.kernel.shape == (2, 3, 4)
    layer(np.ones((1, 6, 4)), np.ones((1, 7, 5)))
    assert layer.key.kernel.shape == layer.value.kernel.shape == (5, 2, 3)
    assert layer.count_params() == 130
